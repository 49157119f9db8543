// Probe failure messages are shown to users in events ("Liveness probe failed: ...") and people
// search for them verbatim, so they follow the wording of the Go standard library that the kubelet
// prints. This module translates Node's socket errors into that wording.

import { isIP } from 'node:net';

/** Formats host and port the way Go's net.JoinHostPort does (IPv6 in brackets). */
export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The text Go prints after the operation for a syscall error code, e.g. "connect: connection refused". */
function errnoText(code: string | undefined, syscall: string): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return `${syscall}: connection refused`;
    case 'EHOSTUNREACH':
      return `${syscall}: no route to host`;
    case 'ENETUNREACH':
      return `${syscall}: network is unreachable`;
    case 'ECONNRESET':
      return 'read: connection reset by peer';
    case 'EPIPE':
      return 'write: broken pipe';
    case 'EADDRNOTAVAIL':
      return `${syscall}: cannot assign requested address`;
    case 'ETIMEDOUT':
      return 'i/o timeout';
    default:
      return undefined;
  }
}

/**
 * Go's message for a failed TCP dial: `dial tcp 10.42.0.5:8080: connect: connection refused`,
 * `dial tcp: lookup web on 10.96.0.10:53: no such host`.
 */
export function dialErrorMessage(host: string, port: number, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.syscall === 'getaddrinfo') {
    return `dial tcp: lookup ${host}: no such host`;
  }
  const text = errnoText(err.code, 'connect');
  return `dial tcp ${joinHostPort(host, port)}: ${text ?? err.message}`;
}

/** Go's message for a dial that did not finish in time. */
export function dialTimeoutMessage(host: string, port: number): string {
  return `dial tcp ${joinHostPort(host, port)}: i/o timeout`;
}

/** Whether a socket error happened while connecting (as opposed to later reads/writes). */
export function isDialError(err: NodeJS.ErrnoException): boolean {
  return (
    err.syscall === 'connect' ||
    err.syscall === 'getaddrinfo' ||
    err.code === 'ECONNREFUSED' ||
    err.code === 'EHOSTUNREACH' ||
    err.code === 'ENETUNREACH' ||
    err.code === 'ENOTFOUND' ||
    err.code === 'EAI_AGAIN'
  );
}

/** Go's message for an error on an established connection. */
export function connErrorMessage(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNRESET' && /socket hang up/.test(err.message)) return 'EOF';
  return errnoText(err.code, 'read') ?? err.message;
}

/** Formats a duration like Go's time.Duration.String(): 1s, 500ms, 1.5s, 1m30s. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms / 1000;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  const seconds = `${Number(rest.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** Go's %q for a plain string (good enough for URLs and commands). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
