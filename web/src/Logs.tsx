// A pod's logs, streamed (follow), for one container, current or previous instance; downloadable.
import { useEffect, useRef, useState } from 'react';
import { stream } from './api.js';

export function Logs({ namespace, pod, containers }: { namespace: string; pod: string; containers: string[] }) {
  const [container, setContainer] = useState(containers[0] ?? '');
  const [follow, setFollow] = useState(true);
  const [previous, setPrevious] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    setText('');
    setError('');
    const abort = new AbortController();
    const q = new URLSearchParams({ container, tailLines: '1000' });
    if (follow && !previous) q.set('follow', 'true');
    if (previous) q.set('previous', 'true');
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log?${q}`;
    stream(path, (chunk) => setText((t) => t + chunk), abort.signal).catch((err: unknown) => {
      if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err));
    });
    return () => abort.abort();
  }, [namespace, pod, container, follow, previous]);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);

  const download = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    a.download = `${pod}-${container}${previous ? '-previous' : ''}.log`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <div className="logs">
      <div className="toolbar">
        <select name="container" value={container} onChange={(e) => setContainer(e.target.value)}>
          {containers.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          <input type="checkbox" checked={previous} onChange={(e) => setPrevious(e.target.checked)} /> Previous
        </label>
        <button onClick={download}>Download</button>
      </div>
      {error && <p className="error">{error}</p>}
      <pre ref={pre} className="log-text" data-testid="logs">
        {text}
      </pre>
    </div>
  );
}
