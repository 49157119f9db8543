// Link rewriting in HTML pages served through the API proxies, as upstream's proxy transport
// (apimachinery/pkg/util/proxy/transport.go) does: in text/html answers, the URL attributes of
// its table (a href, img src, form action, ...) that point at an absolute path on the backend get
// the proxy's prefix, so a page's links stay under .../proxy/. Relative URLs and other hosts are
// left alone. gzip and deflate bodies are decoded and encoded again; other encodings pass as they are.
import zlib from 'node:zlib';

/** Upstream's atomsToAttrs: the attributes holding URLs, per element. */
const URL_ATTRS: Record<string, readonly string[]> = {
  a: ['href'],
  applet: ['codebase'],
  area: ['href'],
  audio: ['src'],
  base: ['href'],
  blockquote: ['cite'],
  body: ['background'],
  button: ['formaction'],
  command: ['icon'],
  del: ['cite'],
  embed: ['src'],
  form: ['action'],
  frame: ['longdesc', 'src'],
  head: ['profile'],
  html: ['manifest'],
  iframe: ['longdesc', 'src'],
  img: ['longdesc', 'src', 'usemap'],
  input: ['src', 'usemap', 'formaction'],
  ins: ['cite'],
  link: ['href'],
  object: ['classid', 'codebase', 'data', 'usemap'],
  q: ['cite'],
  script: ['src'],
  source: ['src'],
  video: ['poster', 'src'],
};

/** Bodies past this size pass through unchanged (the rewrite holds a whole page in memory). */
export const MAX_REWRITE_BYTES = 16 * 1024 * 1024;

const TAG = /<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)(\s*\/?)>/g;
const ATTR = /(\s+)([^\s"'>/=]+)(?:(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g;

/** Decodes the HTML entities a URL attribute may carry (&amp; and numeric ones). */
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (m, e: string) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'quot') return '"';
    if (l === 'apos') return "'";
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    const code = l.startsWith('#x') ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** The page with its URL attributes rewritten (rewriteURL: upstream's rewriteURL, as for Location). */
export function rewriteHTML(html: string, rewriteURL: (url: string) => string): string {
  return html.replace(TAG, (tag, name: string, attrs: string, end: string) => {
    const wanted = URL_ATTRS[name.toLowerCase()];
    if (!wanted || !attrs) return tag;
    let changed = false;
    const out = attrs.replace(ATTR, (whole, space: string, attr: string, eq?: string, raw?: string) => {
      if (raw === undefined || !wanted.includes(attr.toLowerCase())) return whole;
      const quoted = raw.startsWith('"') || raw.startsWith("'");
      const value = decodeEntities(quoted ? raw.slice(1, -1) : raw);
      const rewritten = rewriteURL(value);
      if (rewritten === value) return whole;
      changed = true;
      return `${space}${attr}${eq}"${escapeAttr(rewritten)}"`;
    });
    return changed ? `<${name}${out}${end}>` : tag;
  });
}

/** Is this answer an HTML page whose body the proxy rewrites (and can decode)? */
export function rewritable(contentType: string | undefined, encoding: string | undefined): boolean {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const enc = (encoding ?? '').trim().toLowerCase();
  return media === 'text/html' && (enc === '' || enc === 'gzip' || enc === 'deflate');
}

/** Decodes, rewrites and encodes again a whole body. */
export function rewriteBody(body: Buffer, encoding: string | undefined, rewriteURL: (url: string) => string): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  const text = (enc === 'gzip' ? zlib.gunzipSync(body) : enc === 'deflate' ? zlib.inflateSync(body) : body).toString(
    'utf8',
  );
  const out = Buffer.from(rewriteHTML(text, rewriteURL), 'utf8');
  return enc === 'gzip' ? zlib.gzipSync(out) : enc === 'deflate' ? zlib.deflateSync(out) : out;
}
