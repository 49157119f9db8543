// Sign-in with a bearer token (a ServiceAccount token, a static token, `k8ts dashboard token`'s
// output). The token stays in this tab's sessionStorage and is checked with a SelfSubjectReview.
import { useState, type FormEvent } from 'react';
import { request, setToken, clearToken } from './api.js';

interface Review {
  status?: { userInfo?: { username?: string } };
}

export async function whoAmI(): Promise<string> {
  const r = await request<Review>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    method: 'POST',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return r.status?.userInfo?.username ?? '';
}

export function SignIn({ onSignedIn }: { onSignedIn: (user: string) => void }) {
  const [token, setValue] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    setToken(token.trim());
    try {
      onSignedIn(await whoAmI());
    } catch (err) {
      clearToken();
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form className="signin" onSubmit={(e) => void submit(e)}>
      <h1>k8ts</h1>
      <p>
        Sign in with a bearer token. <code>k8ts dashboard token</code> prints a short-lived admin token.
      </p>
      <textarea
        name="token"
        aria-label="Bearer token"
        placeholder="Bearer token"
        value={token}
        onChange={(e) => setValue(e.target.value)}
        rows={5}
      />
      <button type="submit" disabled={!token.trim()}>
        Sign in
      </button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}
