// Unit tests of the Go text/template engine, the Sprig/Helm functions and Helm's engine
// (src/chart), following the behaviours Helm's own engine tests check (ENGINE_CASES.md).
import { test } from 'node:test';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import { renderString } from '../../src/chart/template/exec.js';
import { helmFuncMap } from '../../src/chart/funcs/index.js';
import { render } from '../../src/chart/engine.js';
import { loadFiles, type Chart } from '../../src/chart/chart.js';
import { parseInto } from '../../src/chart/strvals.js';
import { parseTemplateArgs, templateCommand, userValues } from '../../src/chart/template-command.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { marshalYaml, parseYaml } from '../../src/chart/yaml.js';
import { sprintf } from '../../src/chart/template/gofmt.js';
import { semverCompare } from '../../src/chart/semver.js';
import { coalesceValues } from '../../src/chart/values.js';
import { capabilitiesObject, DEFAULT_KUBE_VERSION } from '../../src/chart/capabilities.js';

/** Renders with Helm's function map (no include/tpl) and Go's default missingkey. */
function tpl(text: string, data: unknown = {}): string {
  return renderString('t', text, data, helmFuncMap());
}

function tplError(text: string, data: unknown = {}): string {
  try {
    tpl(text, data);
  } catch (e) {
    return (e as Error).message;
  }
  return assert.fail('expected an error');
}

test('actions, pipelines, variables and trimming', () => {
  assert.equal(tpl('a {{- " b " -}} c'), 'a b c');
  assert.equal(tpl('{{ $x := 1 }}{{ $x = 2 }}{{ $x }}'), '2');
  assert.equal(tpl('{{ "abc" | printf "%s-%s" "x" }}'), 'x-abc');
  assert.equal(tpl('{{ (print "a" "b") }}{{/* comment */}}'), 'ab');
  assert.equal(tpl('{{- /* trimmed comment */ -}}\n x'), 'x');
  assert.equal(tpl('{{ .a.b }}', { a: { b: 'deep' } }), 'deep');
  assert.equal(tpl('{{ $.a }}{{ with .a }}{{ $.a.b }}{{ end }}', { a: { b: 1 } }), 'map[b:1]1');
});

test('variables are scoped to their control structure', () => {
  assert.equal(tpl('{{ $x := "out" }}{{ if true }}{{ $x := "in" }}{{ $x }}{{ end }}{{ $x }}'), 'inout');
  assert.equal(tpl('{{ $x := "out" }}{{ if true }}{{ $x = "set" }}{{ end }}{{ $x }}'), 'set');
  assert.match(tplError('{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}'), /undefined variable "\$y"/);
});

test('if / else if / else and with / else with', () => {
  const t = '{{ if eq .n 1 }}one{{ else if eq .n 2 }}two{{ else }}many{{ end }}';
  assert.equal(tpl(t, { n: 1n }), 'one');
  assert.equal(tpl(t, { n: 2n }), 'two');
  assert.equal(tpl(t, { n: 3n }), 'many');
  assert.equal(tpl('{{ with .a }}{{ . }}{{ else with .b }}b={{ . }}{{ else }}none{{ end }}', { b: 'x' }), 'b=x');
  assert.equal(tpl('{{ with .missing }}yes{{ else }}no{{ end }}'), 'no');
});

test('range over maps (sorted keys), slices, integers, with break/continue and else', () => {
  assert.equal(tpl('{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}', { b: 2, a: 1, c: 3 }), 'a=1;b=2;c=3;');
  assert.equal(tpl('{{ range $i, $v := . }}{{ $i }}:{{ $v }} {{ end }}', ['x', 'y']), '0:x 1:y ');
  assert.equal(tpl('{{ range 3 }}{{ . }}{{ end }}'), '012');
  assert.equal(
    tpl('{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}', [
      1n,
      2n,
      3n,
      4n,
      5n,
    ]),
    '13',
  );
  assert.equal(tpl('{{ range .none }}x{{ else }}empty{{ end }}'), 'empty');
  assert.equal(tpl('{{ range $v := . }}{{ $v }}{{ end }}', ['a', 'b']), 'ab');
});

test('define, template and block', () => {
  assert.equal(tpl('{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" "arg" }}'), '[arg]');
  assert.equal(tpl('{{ block "b" . }}default {{ . }}{{ end }}', 'v'), 'default v');
  assert.equal(tpl('{{ define "y" }}{{ $ }}{{ end }}{{ template "y" 5 }}'), '5');
});

test('printing Go values: maps sorted, slices, floats, nil', () => {
  assert.equal(tpl('{{ . }}', { b: [1, 'x'], a: true }), 'map[a:true b:[1 x]]');
  assert.equal(tpl('{{ 1000000.0 }} {{ .f }} {{ .g }} {{ 3 }}', { f: 1e6, g: 1.5 }), '1e+06 1e+06 1.5 3');
  assert.equal(tpl('{{ .missing }}'), '<no value>');
  assert.equal(tpl('{{ .n }}', { n: null }), '<no value>');
  assert.equal(tpl('{{ printf "%v" .n }}', { n: null }), '<nil>');
});

test('fmt verbs', () => {
  assert.equal(
    sprintf('%d|%5d|%-5d|%05d|%x|%X|%o|%b', [42n, 42n, 42n, 42n, 255n, 255n, 8n, 5n]),
    '42|   42|42   |00042|ff|FF|10|101',
  );
  assert.equal(
    sprintf('%s|%q|%v|%t|%10s|%-4s|', ['a', 'b"c', 1.5, true, 'r', 'l']),
    'a|"b\\"c"|1.5|true|         r|l   |',
  );
  assert.equal(
    sprintf('%f|%.2f|%e|%g|%.3g', [3.14159, 3.14159, 1234.5, 1e21, 3.14159]),
    '3.141590|3.14|1.234500e+03|1e+21|3.14',
  );
  assert.equal(sprintf('%+v|%T|%T|%T', [{ a: 1 }, 1n, 'x', [1]]), 'map[a:1]|int|string|[]interface {}');
  assert.equal(sprintf('%d %s', [1n]), '1 %!s(MISSING)');
  assert.equal(sprintf('%d', [1n, 2n]), '1%!(EXTRA int=2)');
  assert.equal(sprintf('%d', ['x']), '%!d(string=x)');
  assert.equal(sprintf('%x', ['hi']), '6869');
  // Exact ties round to even, as strconv does; other values round to nearest.
  assert.equal(
    sprintf('%.0f %.0f %.1f %.2f %.1f %f', [2.5, 3.5, 0.25, 1.005, -0.05, 1e-7]),
    '2 4 0.2 1.00 -0.1 0.000000',
  );
  assert.equal(sprintf('%%|%c|%U', [65n, 0x1f600n]), '%|A|U+1F600');
});

test('and/or short-circuit and return the deciding operand', () => {
  assert.equal(tpl('{{ and 1 0 2 }}|{{ or 0 "" "x" }}|{{ and 1 2 }}|{{ or 0 "" }}'), '0|x|2|');
  // The second operand would fail (nil pointer) if evaluated.
  assert.equal(tpl('{{ if and .a .a.b }}yes{{ else }}no{{ end }}'), 'no');
  assert.equal(tpl('{{ or .x (fail "not reached") }}', { x: 'ok' }), 'ok');
  assert.equal(tpl('{{ not 0 }} {{ not "x" }}'), 'true false');
});

test('comparisons follow Go basic kinds', () => {
  assert.equal(
    tpl('{{ eq 1 1 }} {{ eq "a" "b" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ ge 2.5 2.5 }}'),
    'true true true true true',
  );
  assert.equal(tpl('{{ eq .missing "x" }}'), 'false');
  assert.match(tplError('{{ eq 1 "a" }}'), /error calling eq: incompatible types for comparison/);
  assert.match(tplError('{{ lt .f 1 }}', { f: 1.5 }), /error calling lt: incompatible types for comparison/);
  assert.match(tplError('{{ lt true false }}'), /invalid type for comparison/);
});

test('len, index, slice', () => {
  assert.equal(tpl('{{ len . }}', 'héllo'), '6');
  assert.equal(tpl('{{ len .l }} {{ len .m }}', { l: [1, 2], m: { a: 1 } }), '2 1');
  assert.equal(
    tpl('{{ index .l 1 }} {{ index .m "a" }} {{ index .n "x" "y" }}', {
      l: ['a', 'b'],
      m: { a: 'A' },
      n: { x: { y: 'XY' } },
    }),
    'b A XY',
  );
  assert.match(tplError('{{ index .l 5 }}', { l: [1] }), /error calling index: index out of range: 5/);
  // Sprig's slice replaces Go's builtin in Helm: lists only.
  assert.equal(tpl('{{ slice .l 1 }} {{ slice .l 0 1 }}', { l: ['a', 'b', 'c'] }), '[b c] [a]');
  assert.match(tplError('{{ slice "abc" 1 }}'), /list should be type of slice or array but string/);
});

test('escapers and print family', () => {
  assert.equal(tpl('{{ html "<a href=\'x\'>&</a>" }}'), '&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(tpl('{{ js "it\'s <b>" }}'), "it\\'s \\u003Cb\\u003E");
  assert.equal(tpl('{{ urlquery "a b&c" }}'), 'a+b%26c');
  assert.equal(tpl('{{ print 1 2 "a" 3 }}|{{ println "x" 1 }}'), '1 2a3|x 1\n');
});

test('errors name template, line and column, and the failing node', () => {
  assert.equal(
    tplError('line1\n  {{ .Values.missing.foo }}', { Values: {} }),
    'template: t:2:12: executing "t" at <.Values.missing.foo>: nil pointer evaluating interface {}.foo',
  );
  assert.equal(
    tplError('{{ .x.y }}', { x: 'str' }),
    'template: t:1:5: executing "t" at <.x.y>: can\'t evaluate field y in type interface {}',
  );
  assert.match(tplError('{{ nosuch 1 }}'), /^template: t:1: function "nosuch" not defined$/);
  assert.match(tplError('{{ if }}{{ end }}'), /missing value for if/);
  assert.equal(tplError('{{ 3 | 4 }}'), 'template: t:1: non executable command in pipeline stage 2');
  assert.equal(tplError('{{ if .x }}'), 'template: t:1: unexpected EOF');
  assert.match(tplError('{{ upper 3 }}'), /expected string; found 3/);
  assert.match(tplError('{{ .v | upper }}', { v: null }), /invalid value; expected string/);
  assert.equal(
    tplError('{{ template "nope" }}'),
    'template: t:1:3: executing "t" at <{{template "nope"}}>: template "nope" not defined',
  );
  assert.equal(marshalYaml({ t: 'a\tb', e: '😀', l: 'x\n\ty' }), 'e: "\\U0001F600"\nl: "x\\n\\ty"\nt: "a\\tb"\n');
});

test('Helm engine: missing values render empty, partials are not output, parent defines win', () => {
  const chart = chartOf('parent', {
    'templates/a.yaml': 'x: {{ .Values.missing }}|{{ include "shared" . }}|{{ .Template.Name }}|{{ .Chart.IsRoot }}',
    'templates/_helpers.tpl': '{{ define "shared" }}parent{{ end }}',
  });
  const sub = chartOf(
    'child',
    {
      'templates/_helpers.tpl':
        '{{ define "shared" }}child{{ end }}{{ define "child.only" }}c:{{ .Values.v }}{{ end }}',
      'templates/b.yaml':
        'sub: {{ include "shared" . }} {{ include "child.only" . }} {{ .Chart.IsRoot }} {{ .Values.global.g }}',
    },
    { v: 'cv' },
  );
  sub.parent = chart;
  chart.dependencies.push(sub);
  const out = renderChart(chart, { global: { g: 'G' } });
  assert.deepEqual([...out.keys()].sort(), ['parent/charts/child/templates/b.yaml', 'parent/templates/a.yaml']);
  assert.equal(out.get('parent/templates/a.yaml'), 'x: |parent|parent/templates/a.yaml|true');
  assert.equal(out.get('parent/charts/child/templates/b.yaml'), 'sub: parent c:cv false G');
});

test('Helm engine: required, fail, tpl and include errors', () => {
  const run = (files: Record<string, string>, values = {}) => {
    try {
      return renderChart(chartOf('c', files), values).get('c/templates/t.yaml');
    } catch (e) {
      return 'ERR ' + (e as Error).message;
    }
  };
  assert.equal(
    run({ 'templates/t.yaml': 'a\n\n  {{ required "need: x\\nplease" .Values.x }}' }),
    'ERR execution error at (c/templates/t.yaml:3:5): need: x\nplease',
  );
  assert.equal(
    run({ 'templates/t.yaml': 'Text before fail {{ fail "This is an error" }}' }),
    'ERR execution error at (c/templates/t.yaml:1:20): This is an error',
  );
  assert.equal(run({ 'templates/t.yaml': '{{ required "n" .Values.x }}' }, { x: 5 }), '5');
  assert.equal(
    run({ 'templates/t.yaml': '{{ foo }}' }),
    'ERR parse error at (c/templates/t.yaml:1): function "foo" not defined',
  );
  assert.equal(
    run({ 'templates/t.yaml': '{{ tpl "{{ .Values.name | upper }}-{{ .Values.nope }}" . }}' }, { name: 'x' }),
    'X-',
  );
  assert.equal(run({ 'templates/t.yaml': '{{ tpl "" . }}|{{ tpl "{{ define \\"d\\" }}x{{ end }}" . }}|' }), '||');
  // Nested tpl calls with empty or define-only text render nothing (not the enclosing tpl text).
  assert.equal(
    run({
      'templates/t.yaml': '{{ tpl "a{{ tpl \\"\\" . }}b{{ tpl \\"{{ define \\\\\\"q\\\\\\" }}{{ end }}\\" . }}c" . }}',
    }),
    'abc',
  );
  assert.equal(
    run({ 'templates/t.yaml': '{{ tpl "{{ .Template.Name }} {{ .Template.BasePath }}" . }}' }),
    'c/templates/t.yaml c/templates',
  );
  // A define inside tpl is visible only to that tpl call.
  assert.equal(
    run({
      'templates/t.yaml':
        '{{ define "d" }}outer{{ end }}{{ tpl "{{ define \\"d\\" }}inner{{ end }}{{ include \\"d\\" . }}" . }} {{ include "d" . }}',
    }),
    'inner outer',
  );
  assert.equal(
    run({ 'templates/t.yaml': '{{ include "x" . | indent 2 }}', 'templates/_x.tpl': '{{ define "x" }}a\nb{{ end }}' }),
    '  a\n  b',
  );
  const recursion = run({
    'templates/t.yaml': '{{ include "loop" . }}',
    'templates/_l.tpl': '{{ define "loop" }}{{ include "loop" . }}{{ end }}',
  });
  assert.match(recursion!, /rendering template has a nested reference name: loop: unable to execute template/);
  assert.match(
    run({ 'templates/t.yaml': '{{ include "nope" . }}' })!,
    /error calling include: template: no template "nope" associated with template "gotpl"$/,
  );
});

test('Helm engine: strict and lint modes, many sequential includes', () => {
  const chart = chartOf('s', { 'templates/t.yaml': '{{ tpl "{{ .Values.noSuchKey }}" . }}' });
  assert.equal(renderChart(chart, {}).get('s/templates/t.yaml'), '');
  assert.throws(() => render(chart, topOf(chart, {}), { strict: true }), /map has no entry for key "noSuchKey"/);
  const lint = chartOf('l', { 'templates/t.yaml': 'a{{ required "x" .Values.nope }}b{{ fail "f" }}c' });
  assert.equal(render(lint, topOf(lint, {}), { lintMode: true }).get('l/templates/t.yaml'), 'abc');
  const many = chartOf('m', {
    'templates/t.yaml': '{{ range until 4000 }}{{ include "one" . }}{{ end }}',
    'templates/_one.tpl': '{{ define "one" }}1{{ end }}',
  });
  assert.equal(renderChart(many, {}).get('m/templates/t.yaml'), '1'.repeat(4000));
});

test('Helm engine: .Chart fields use Go names, maintainers and dependencies too', () => {
  const c = loadFiles([
    {
      name: 'Chart.yaml',
      data: Buffer.from(
        'apiVersion: v2\nname: meta\nversion: 1.2.3\nappVersion: "9"\nmaintainers:\n  - name: Ann\n    email: a@x\nannotations:\n  k: v\n',
      ),
    },
    {
      name: 'templates/t.yaml',
      data: Buffer.from(
        '{{ .Chart.Name }} {{ .Chart.Version }} {{ .Chart.AppVersion }} {{ range .Chart.Maintainers }}{{ .Name }}<{{ .Email }}>{{ end }} {{ .Chart.Annotations.k }} {{ .Chart.APIVersion }}',
      ),
    },
  ]);
  assert.equal(renderChart(c, {}).get('meta/templates/t.yaml'), 'meta 1.2.3 9 Ann<a@x> v v2');
});

test('Helm engine: .Files accessors and .Subcharts', () => {
  const chart = chartOf('files', {
    'templates/t.yaml':
      '{{ .Files.Get "conf/a.txt" }}|{{ printf "%s" (index .Files "conf/a.txt") }}|{{ .Files.Lines "conf/b.txt" }}|{{ range $p, $_ := .Files.Glob "conf/*.txt" }}{{ $p }},{{ end }}|{{ .Files.Get "none" }}\n{{ (.Files.Glob "conf/*").AsConfig }}',
  });
  chart.files.push(
    { name: 'conf/a.txt', data: Buffer.from('A') },
    { name: 'conf/b.txt', data: Buffer.from('l1\nl2\n') },
  );
  assert.equal(
    renderChart(chart, {}).get('files/templates/t.yaml'),
    'A|A|[l1 l2]|conf/a.txt,conf/b.txt,|\na.txt: A\nb.txt: |\n  l1\n  l2',
  );
});

test('Sprig: strings', () => {
  assert.equal(
    tpl('{{ "hello world" | title }} {{ "ABC" | lower }} {{ upper "x" }} {{ "  t  " | trim }}'),
    'Hello World abc X t',
  );
  assert.equal(tpl('{{ "foo-" | trimSuffix "-" }} {{ trimPrefix "a" "abc" }} {{ trimAll "$" "$5$" }}'), 'foo bc 5');
  assert.equal(tpl('{{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }} {{ "abc" | replace "b" "X" }}'), 'abc ef aXc');
  assert.equal(tpl('{{ contains "b" "abc" }} {{ hasPrefix "a" "abc" }} {{ hasSuffix "c" "abc" }}'), 'true true true');
  assert.equal(tpl('{{ quote "a" 1 }} {{ squote "b" }} {{ quote .nil }}|', { nil: null }), '"a" "1" \'b\' |');
  assert.equal(tpl('{{ "a\\nb" | indent 2 }}|{{ "x" | nindent 4 }}'), '  a\n  b|\n    x');
  assert.equal(
    tpl('{{ join "," (list "a" 1 .n) }} {{ splitList "," "a,b" }} {{ (split "," "a,b")._1 }}', { n: null }),
    'a,1 [a b] b',
  );
  assert.equal(
    tpl(
      '{{ regexMatch "^a.c$" "abc" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexFindAll "[0-9]" "a1b2c3" 2 }}',
    ),
    'true -W-xxW- [1 2]',
  );
  assert.equal(tpl('{{ b64enc "abc" }} {{ b64dec "YWJj" }} {{ sha256sum "abc" | trunc 8 }}'), 'YWJj abc ba7816bf');
  assert.equal(
    tpl('{{ toString 1.5 }} {{ "snake_case" | camelcase }} {{ "FooBar" | snakecase }} {{ "FooBar" | kebabcase }}'),
    '1.5 SnakeCase foo_bar foo-bar',
  );
});

test('Sprig: durations; unsupported crypto fails only when called', () => {
  assert.equal(
    tpl('{{ duration 3725 }} {{ durationRound "2h10m" }} {{ durationRound "49h" }} {{ duration 0 }}'),
    '1h2m5s 2h 2d 0s',
  );
  assert.equal(tpl('{{ if false }}{{ bcrypt "x" }}{{ end }}ok'), 'ok');
  assert.match(tplError('{{ htpasswd "u" "p" }}'), /error calling htpasswd: htpasswd is not supported/);
});

test('Sprig: certificates from genCA / genSignedCert / genSelfSignedCert are valid X.509', () => {
  const out = tpl(
    '{{ $ca := genCA "my-ca" 365 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns.svc") 30 $ca }}{{ $s := genSelfSignedCert "self" nil (list "a.b") 1 }}' +
      '{{ $ca.Cert }}|{{ $c.Cert }}|{{ $c.Key }}|{{ $s.Cert }}',
  );
  const [caPem, certPem, keyPem, selfPem] = out.split('|');
  const ca = new X509Certificate(caPem);
  const cert = new X509Certificate(certPem);
  const self = new X509Certificate(selfPem);
  assert.equal(ca.ca, true);
  assert.equal(ca.subject, 'CN=my-ca');
  assert.ok(ca.verify(ca.publicKey));
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(ca.publicKey));
  assert.ok(cert.checkIssued(ca));
  assert.equal(cert.subjectAltName, 'DNS:svc.ns.svc, IP Address:10.0.0.1');
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  assert.ok(self.verify(self.publicKey));
  assert.equal(self.subjectAltName, 'DNS:a.b');
});

test('Sprig: keys and AES round trip', () => {
  assert.match(
    tpl('{{ genPrivateKey "ecdsa" }}'),
    /^-----BEGIN EC PRIVATE KEY-----\n[\s\S]+-----END EC PRIVATE KEY-----\n$/,
  );
  assert.equal(tpl('{{ encryptAES "secretkey" "plaintext" | decryptAES "secretkey" }}'), 'plaintext');
});

test('Sprig: defaults, lists, dicts', () => {
  assert.equal(
    tpl('{{ default "d" .x }} {{ default "d" "" }} {{ default "d" "v" }} {{ empty .m }} {{ coalesce "" .n "c" }}', {
      m: {},
    }),
    'd d v true c',
  );
  assert.equal(
    tpl(
      '{{ ternary "y" "n" true }} {{ list 1 "a" | len }} {{ first (list 1 2) }} {{ last (list 1 2) }} {{ rest (list 1 2 3) }}',
    ),
    'y 2 1 2 [2 3]',
  );
  assert.equal(
    tpl(
      '{{ has 2 (list 1 2) }} {{ uniq (list 1 1 2) }} {{ without (list 1 2 3) 2 }} {{ reverse (list 1 2) }} {{ compact (list "" 1) }}',
    ),
    'true [1 2] [1 3] [2 1] [1]',
  );
  assert.equal(
    tpl(
      '{{ $d := dict "a" 1 "b" 2 }}{{ $_ := set $d "c" 3 }}{{ $_ := unset $d "a" }}{{ $d }} {{ hasKey $d "b" }} {{ keys $d | sortAlpha }}',
    ),
    'map[b:2 c:3] true [b c]',
  );
  assert.equal(
    tpl(
      '{{ pluck "a" (dict "a" 1) (dict "a" 2) (dict "b" 3) }} {{ get (dict "k" "v") "k" }} {{ dig "a" "b" "def" (dict "a" (dict "b" "x")) }}',
    ),
    '[1 2] v x',
  );
  assert.equal(
    tpl(
      '{{ merge (dict "a" (dict "b" "c")) (dict "a" (dict "b" "d")) }} {{ merge (dict "a" (dict "b" "d")) (dict "a" (dict "b" "c")) }}',
    ),
    'map[a:map[b:c]] map[a:map[b:d]]',
  );
  assert.equal(
    tpl(
      '{{ mergeOverwrite (dict "a" 1 "b" 2) (dict "b" 3) }} {{ merge (dict "t" true) (dict "t" false) }} {{ merge (dict "f" false) (dict "f" true) }}',
    ),
    'map[a:1 b:3] map[t:true] map[f:true]',
  );
  assert.equal(
    tpl(
      '{{ until 3 }} {{ untilStep 0 10 4 }} {{ append (list 1) 2 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2) }}',
    ),
    '[0 1 2] [0 4 8] [1 2] [0 1] [1 2]',
  );
});

test('Sprig: math and conversions', () => {
  assert.equal(
    tpl(
      '{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 5 3 }} {{ min 4 2 }} {{ add1 .f }}',
      { f: 1.9 },
    ),
    '6 3 6 3 1 5 2 2',
  );
  assert.equal(
    tpl(
      '{{ int "42" }} {{ int64 3.9 }} {{ float64 "1.5" }} {{ atoi "12" }} {{ floor 1.5 }} {{ ceil 1.2 }} {{ round 1.2345 2 }}',
    ),
    '42 3 1.5 12 1 2 1.23',
  );
  assert.equal(
    tpl('{{ addf 0.1 0.2 }} {{ typeOf 1 }} {{ typeOf .f }} {{ kindOf (list) }} {{ kindIs "map" (dict) }}', { f: 1.5 }),
    '0.3 int float64 slice true',
  );
  assert.equal(
    tpl('{{ semverCompare ">=1.2.0" "1.3.0" }} {{ semverCompare "^1.2" "2.0.0" }} {{ (semver "1.2.3").Major }}'),
    'true false 1',
  );
});

test('Helm serialisation functions', () => {
  assert.equal(tpl('{{ toYaml . }}', { foo: 'bar' }), 'foo: bar');
  assert.equal(tpl('{{ toYamlPretty . }}', { baz: [1, 2, 3] }), 'baz:\n  - 1\n  - 2\n  - 3');
  assert.equal(tpl('{{ toToml . }}', { foo: 'bar' }), 'foo = "bar"\n');
  assert.equal(tpl('{{ toToml . }}', { mast: { sail: 'white' } }), '[mast]\n  sail = "white"\n');
  assert.equal(tpl('{{ fromToml "hello = \\"world\\"" }}'), 'map[hello:world]');
  assert.equal(tpl('{{ toJson . }}', { b: 1, a: '<x>' }), '{"a":"\\u003cx\\u003e","b":1}');
  assert.equal(
    tpl('{{ fromYaml "hello: world" }} {{ fromJson "{\\"hello\\": \\"world\\"}" }}'),
    'map[hello:world] map[hello:world]',
  );
  assert.equal(
    tpl('{{ fromJson "[1]" }}'),
    'map[Error:json: cannot unmarshal array into Go value of type map[string]interface {}]',
  );
  assert.equal(
    tpl('{{ fromYaml "- one" }}'),
    'map[Error:error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}]',
  );
  assert.equal(
    tpl(
      '{{ fromYamlArray "- one\\n- 2\\n- name: helm" }} {{ fromJsonArray "[\\"one\\", 2, {\\"name\\": \\"helm\\"}]" }}',
    ),
    '[one 2 map[name:helm]] [one 2 map[name:helm]]',
  );
  assert.equal(tpl('{{ lookup "v1" "Pod" "ns" "name" }}'), 'map[]');
});

test('go-yaml output: key order, quoting, literals, indentation', () => {
  assert.equal(marshalYaml({ b: 1, a: 'x', key10: 1, key9: 2 }), 'a: x\nb: 1\nkey9: 2\nkey10: 1\n');
  assert.equal(
    marshalYaml({ s: 'true', n: '123', e: '', c: 'a: b', h: '#x', sp: ' lead', d: '2024-01-01' }),
    'c: \'a: b\'\nd: "2024-01-01"\ne: ""\nh: \'#x\'\n"n": "123"\ns: "true"\nsp: \' lead\'\n',
  );
  assert.equal(marshalYaml({ m: 'line1\nline2', t: 'with\n' }), 'm: |-\n  line1\n  line2\nt: |\n  with\n');
  assert.equal(marshalYaml({ l: [{ a: 1, b: [] }, [1, 2]], e: {} }), 'e: {}\nl:\n- a: 1\n  b: []\n- - 1\n  - 2\n');
  assert.equal(marshalYaml({ f: 1.5, i: 1e6, n: null, big: 1e21 }), 'big: 1e+21\nf: 1.5\ni: 1000000\n"n": null\n');
  assert.deepEqual(parseYaml('a: yes\nb: 2001-12-14\nc: 010\nd: 1.0'), { a: true, b: '2001-12-14', c: 8, d: 1 });
});

test('strvals: --set syntax', () => {
  const set = (s: string, mode?: 'string' | 'json') => {
    const m = {};
    parseInto(s, m, mode);
    return m;
  };
  assert.deepEqual(set('a=b,c.d=1,e=true,f=null,g=0,h=012'), {
    a: 'b',
    c: { d: 1n },
    e: true,
    f: null,
    g: 0n,
    h: '012',
  });
  assert.deepEqual(set('list[0]=a,list[2]=c,n={x,y}'), { list: ['a', null, 'c'], n: ['x', 'y'] });
  assert.deepEqual(set('a\\.b=c,x=1\\,2'), { 'a.b': 'c', x: '1,2' });
  assert.deepEqual(set('p[0].q=1'), { p: [{ q: 1n }] });
  assert.deepEqual(set('a=1', 'string'), { a: '1' });
  assert.deepEqual(set('a={"b":[1,2]}', 'json'), { a: { b: [1, 2] } });
  assert.throws(() => set('a'), /key "a" has no value/);
});

test('helm template flags: argument forms and the order values are applied in', () => {
  const o = parseTemplateArgs([
    'rel',
    'chart',
    '--set-string',
    'a=1',
    '--set=a=2,b=x',
    '--set-json',
    'a=3',
    '--set-literal',
    'c=1,2',
    '-n',
    'ns',
    '-s',
    't.yaml',
    '--include-crds',
  ]);
  assert.equal(o.releaseName, 'rel');
  assert.equal(o.chartPath, 'chart');
  assert.equal(o.namespace, 'ns');
  assert.deepEqual(o.showOnly, ['t.yaml']);
  assert.equal(o.includeCrds, true);
  // --set-json, then --set, then --set-string, then --set-literal, whatever the command-line order.
  assert.deepEqual(userValues(o), { a: '1', b: 'x', c: '1,2' });
  assert.throws(() => parseTemplateArgs([]), /"helm template" requires at least 1 argument/);
  assert.throws(() => parseTemplateArgs(['c', '--bogus']), /unknown flag: --bogus/);
});

test('values.schema.json: values are validated per chart unless --skip-schema-validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-chart-schema-'));
  try {
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: sch\nversion: 0.1.0\n');
    writeFileSync(join(dir, 'values.yaml'), 'replicas: 1\n');
    writeFileSync(join(dir, 'templates', 'cm.yaml'), 'kind: ConfigMap\ndata:\n  r: "{{ .Values.replicas }}"\n');
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      required: ['replicas'],
      properties: { replicas: { type: 'integer', minimum: 1 } },
    };
    writeFileSync(join(dir, 'values.schema.json'), JSON.stringify(schema));
    assert.equal(templateCommand(['template', dir, '--set', 'replicas=3']).error, undefined);
    assert.equal(
      templateCommand(['template', dir, '--set', 'replicas=x']).error,
      "values don't meet the specifications of the schema(s) in the following chart(s):\nsch:\n- at '/replicas': must be integer\n",
    );
    assert.equal(
      templateCommand(['template', dir, '--set', 'replicas=x', '--skip-schema-validation']).error,
      undefined,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('values: user nulls delete chart defaults; globals reach subcharts', () => {
  const parent = chartOf('p', {}, { keep: 1, drop: 2, global: { g: 1 } });
  const child = chartOf('c', {}, { x: 1, y: 2 });
  child.parent = parent;
  parent.dependencies.push(child);
  const v = coalesceValues(parent, { drop: null, c: { y: null } }, false);
  assert.deepEqual(v, { keep: 1, global: { g: 1 }, c: { x: 1, global: { g: 1 } } });
});

test('semver constraints', () => {
  assert.equal(semverCompare('>=1.20.0-0', 'v1.20.0'), true);
  assert.equal(semverCompare('>=1.2.3', '1.2.3-beta'), false);
  assert.equal(semverCompare('~1.2.0', '1.2.9'), true);
  assert.equal(semverCompare('~1.2.0', '1.3.0'), false);
  assert.equal(semverCompare('^0.2.3', '0.2.9'), true);
  assert.equal(semverCompare('^0.2.3', '0.3.0'), false);
  assert.equal(semverCompare('1.2.x', '1.2.7'), true);
  assert.equal(semverCompare('>1.0 <2.0 || =3.0.0', '3.0.0'), true);
  assert.equal(semverCompare('1.0 - 2.0', '1.5.0'), true);
  assert.throws(() => semverCompare('>=1.0', 'nope'), /Invalid Semantic Version/);
});

function chartOf(name: string, templates: Record<string, string>, values: Record<string, unknown> = {}): Chart {
  const files = [
    { name: 'Chart.yaml', data: Buffer.from(`apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`) },
    ...Object.entries(templates).map(([n, t]) => ({ name: n, data: Buffer.from(t) })),
  ];
  const c = loadFiles(files);
  c.values = values;
  return c;
}

function topOf(chart: Chart, values: Record<string, unknown>) {
  return {
    Capabilities: capabilitiesObject(DEFAULT_KUBE_VERSION, []),
    Release: { Name: 'rel', Namespace: 'default', IsInstall: true, IsUpgrade: false, Revision: 1n, Service: 'Helm' },
    Values: coalesceValues(chart, values, false),
  };
}

function renderChart(chart: Chart, values: Record<string, unknown>): Map<string, string> {
  return render(chart, topOf(chart, values));
}
