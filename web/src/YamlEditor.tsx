// View and edit an object as YAML: an edit is first sent as a server-side dry run, whose answer
// (defaulted, validated, admitted) is shown as a diff against the live object before saving.
import { useState } from 'react';
import { parse, stringify } from 'yaml';
import { request, type KubeObject } from './api.js';
import { lineDiff } from './diff.js';

/** The object as YAML, without managedFields (noise in an editor, kept by the server on update). */
export function toYaml(obj: KubeObject): string {
  const { managedFields: _managed, ...metadata } = obj.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  return stringify({ ...obj, metadata });
}

export function YamlEditor({ obj, path, canEdit }: { obj: KubeObject; path: string; canEdit: boolean }) {
  const [draft, setDraft] = useState<string | undefined>();
  const [review, setReview] = useState<string | undefined>();
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const live = toYaml(obj);

  const put = (dryRun: boolean) =>
    request<KubeObject>(`${path}${dryRun ? '?dryRun=All' : ''}`, {
      method: 'PUT',
      body: parse(draft ?? '') as unknown,
    });
  const check = async () => {
    setError('');
    try {
      setReview(toYaml(await put(true)));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const save = async () => {
    setError('');
    try {
      const after = await put(false);
      setSaved(`saved (resourceVersion ${after.metadata.resourceVersion ?? ''})`);
      setDraft(undefined);
      setReview(undefined);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  if (draft === undefined)
    return (
      <div className="yaml">
        {canEdit && (
          <button
            onClick={() => {
              setSaved('');
              setDraft(live);
            }}
          >
            Edit
          </button>
        )}
        {saved && <span className="ok">{saved}</span>}
        <pre data-testid="yaml-view">{live}</pre>
      </div>
    );
  return (
    <div className="yaml">
      <div className="toolbar">
        <button onClick={() => void check()}>Review changes (dry run)</button>
        <button disabled={review === undefined} onClick={() => void save()}>
          Save
        </button>
        <button
          onClick={() => {
            setDraft(undefined);
            setReview(undefined);
          }}
        >
          Cancel
        </button>
      </div>
      {error && <p className="error">{error}</p>}
      {review !== undefined && (
        <pre className="diff" data-testid="yaml-diff">
          {lineDiff(live, review)
            .filter((l, i, all) => l.op !== ' ' || all.slice(Math.max(0, i - 2), i + 3).some((n) => n.op !== ' '))
            .map((l, i) => (
              <div key={i} className={l.op === '+' ? 'add' : l.op === '-' ? 'del' : ''}>
                {l.op} {l.text}
              </div>
            ))}
        </pre>
      )}
      <textarea
        name="yaml"
        spellCheck={false}
        value={draft}
        onChange={(e) => {
          setDraft(e.target.value);
          setReview(undefined);
        }}
        rows={30}
      />
    </div>
  );
}
