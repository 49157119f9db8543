// Header-field helpers shared by the ingress's fast path and its node:http / undici path.
import type { OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 7.6.1) never forwarded; HTTP/2 forbids them in responses too. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Methods whose bodiless requests may go to another endpoint when a connection fails. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Adds a response field as node:http's client presents repeats: set-cookie as a list, others joined by ', '. */
export function addResponseField(out: OutgoingHttpHeaders, k: string, v: string): void {
  const prior = out[k];
  if (prior === undefined) out[k] = k === 'set-cookie' ? [v] : v;
  else if (Array.isArray(prior)) prior.push(v);
  else out[k] = `${String(prior)}, ${v}`;
}

/** Header lines (`name: value` CRLF), one per value of a list. */
export function headerLines(headers: OutgoingHttpHeaders): string {
  let text = '';
  for (const k in headers) {
    const v = headers[k];
    if (Array.isArray(v)) for (const one of v) text += `${k}: ${one}\r\n`;
    else if (v !== undefined) text += `${k}: ${String(v)}\r\n`;
  }
  return text;
}

/** Reason phrases of the proxy's own answers, in NGINX's wording (both paths). */
export const STATUS_TEXT: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Request Entity Too Large',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Timeout',
};

/** The HTML page of an answer of the proxy's own. */
export const errorPage = (status: number): string =>
  `<html><head><title>${status} ${STATUS_TEXT[status] ?? ''}</title></head></html>\n`;
