// An exec terminal: xterm.js over the WebSocket exec protocol v5.channel.k8s.io (each message a
// channel byte then data: 0 stdin, 1 stdout, 2 stderr, 3 the exit Status, 4 resize, 255 close).
import { useEffect, useRef, useState } from 'react';
import { Terminal as XTerm } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { openWebSocket } from './api.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

function frame(channel: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

export function Terminal({ namespace, pod, containers }: { namespace: string; pod: string; containers: string[] }) {
  const host = useRef<HTMLDivElement>(null);
  const [container, setContainer] = useState(containers[0] ?? '');
  const [command, setCommand] = useState('sh');
  // Each Connect starts a session with the container and command chosen then.
  const [session, setSession] = useState<{ container: string; command: string } | undefined>();
  const [state, setState] = useState('');

  useEffect(() => {
    if (!session || !host.current) return;
    const { container, command } = session;
    const term = new XTerm({ convertEol: false, fontSize: 13, cursorBlink: true });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    const q = new URLSearchParams({ container, stdin: 'true', stdout: 'true', tty: 'true' });
    for (const arg of command.trim().split(/\s+/)) q.append('command', arg);
    const ws = openWebSocket(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/exec?${q}`,
      ['v5.channel.k8s.io'],
    );
    const encoder = new TextEncoder();
    const resize = () =>
      ws.readyState === WebSocket.OPEN &&
      ws.send(frame(RESIZE, encoder.encode(JSON.stringify({ Width: term.cols, Height: term.rows }))));
    ws.onopen = () => {
      setState('connected');
      resize();
      term.focus();
    };
    ws.onmessage = (m: MessageEvent<ArrayBuffer>) => {
      const bytes = new Uint8Array(m.data);
      if (bytes[0] === STDOUT || bytes[0] === STDERR) term.write(bytes.subarray(1));
      else if (bytes[0] === ERROR && bytes.length > 1) {
        const status = JSON.parse(new TextDecoder().decode(bytes.subarray(1))) as { status?: string; message?: string };
        setState(status.status === 'Success' ? 'exited' : `ended: ${status.message ?? ''}`);
      }
    };
    ws.onclose = () => setState((s) => (s === 'connected' ? 'closed' : s || 'closed'));
    ws.onerror = () => setState('connection failed');
    const input = term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(frame(STDIN, encoder.encode(d))));
    const onResize = () => {
      fit.fit();
      resize();
    };
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      input.dispose();
      ws.close();
      term.dispose();
    };
  }, [session, namespace, pod]);

  return (
    <div className="terminal">
      <div className="toolbar">
        <select name="exec-container" value={container} onChange={(e) => setContainer(e.target.value)}>
          {containers.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
        <input name="exec-command" value={command} onChange={(e) => setCommand(e.target.value)} />
        <button onClick={() => setSession({ container, command })}>Connect</button>
        <span data-testid="exec-state">{state}</span>
      </div>
      <div ref={host} className="xterm-host" data-testid="terminal" />
    </div>
  );
}
