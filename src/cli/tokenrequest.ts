// A request to one of a server's join endpoints (/k8ts/v1/...): the server verified against the
// cluster CA the caller pinned, the join or agent token as a bearer token.
import { Agent, request } from 'undici';

export async function tokenRequest(
  server: string,
  caPem: string,
  secret: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; text: string }> {
  const dispatcher = new Agent({ connect: { ca: caPem, rejectUnauthorized: true } });
  try {
    const res = await request(`${server}${path}`, {
      method,
      dispatcher,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}
