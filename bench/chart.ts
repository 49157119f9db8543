// `k8ts chart template` speed: a generated chart with 50 templates (Deployments and Services in
// the shape `helm create` writes: named-template includes, toYaml | nindent, range, with) and 3
// subcharts with their own helpers and templates. Measures the whole command in process (load,
// dependency processing, render, YAML parse and kind sort, output), first run and warm runs.
// Issue target: < 100 ms.
//   node dist/bench/chart.js   (CHART_TEMPLATES, CHART_RUNS)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { templateCommand } from '../src/chart/template-command.js';
import { pick } from './common.js';

const TEMPLATES = pick('CHART_TEMPLATES', 50, 50);
const RUNS = pick('CHART_RUNS', 20, 5);

const HELPERS = (name: string) => `{{- define "${name}.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "${name}.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}
{{- define "${name}.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/name: {{ include "${name}.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
`;

const DEPLOYMENT = (name: string, i: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "${name}.fullname" . }}-${i}
  labels:
    {{- include "${name}.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    metadata:
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "${name}.labels" . | nindent 8 }}
    spec:
      containers:
        - name: app-${i}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          env:
            {{- range $k, $v := .Values.env }}
            - name: {{ $k | upper }}
              value: {{ $v | quote }}
            {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "${name}.fullname" . }}-${i}
spec:
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
`;

const VALUES = `replicaCount: 2
image: { repository: nginx, tag: "" }
podAnnotations: { a: "1", b: "2" }
env: { LOG_LEVEL: info, MODE: prod, REGION: eu-west-1, FEATURE_X: "true" }
resources: { limits: { cpu: 100m, memory: 128Mi }, requests: { cpu: 50m, memory: 64Mi } }
service: { port: 80 }
`;

function writeChart(dir: string, name: string, templates: number, deps: string[]): void {
  mkdirSync(join(dir, 'templates'), { recursive: true });
  const depsYaml = deps.length
    ? 'dependencies:\n' + deps.map((d) => `  - name: ${d}\n    version: 0.1.0\n    condition: ${d}.enabled\n`).join('')
    : '';
  writeFileSync(
    join(dir, 'Chart.yaml'),
    `apiVersion: v2\nname: ${name}\nversion: 0.1.0\nappVersion: "1.2.3"\n${depsYaml}`,
  );
  writeFileSync(join(dir, 'values.yaml'), VALUES);
  writeFileSync(join(dir, 'templates', '_helpers.tpl'), HELPERS(name));
  for (let i = 0; i < templates; i++) writeFileSync(join(dir, 'templates', `app-${i}.yaml`), DEPLOYMENT(name, i));
}

const root = mkdtempSync(join(tmpdir(), 'k8ts-chart-bench-'));
try {
  const subs = ['alpha', 'beta', 'gamma'];
  writeChart(join(root, 'top'), 'top', TEMPLATES, subs);
  for (const s of subs) writeChart(join(root, 'top', 'charts', s), s, 5, []);
  const argv = ['template', 'bench', join(root, 'top'), '--set', 'replicaCount=3'];
  const times: number[] = [];
  // CPU time of the process per run too: on a shared, loaded machine wall time mostly measures
  // waiting for a core, CPU time what the rendering itself costs.
  const cpu: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = templateCommand(argv);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (out.error) throw new Error(out.error);
    bytes = out.stdout.length;
  }
  const warm = times.slice(1).sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)] ?? times[0];
  const warmCpu = cpu.slice(1).sort((a, b) => a - b);
  const cpuMedian = warmCpu[Math.floor(warmCpu.length / 2)] ?? cpu[0];
  console.log(
    `chart template: ${TEMPLATES} templates + 3 subcharts (${TEMPLATES + 15} files, ${bytes} bytes out): ` +
      `first ${times[0].toFixed(1)} ms, warm median ${median.toFixed(1)} ms, warm min ${(warm[0] ?? times[0]).toFixed(1)} ms; ` +
      `CPU warm median ${cpuMedian.toFixed(1)} ms (load average ${loadavg()[0].toFixed(1)})`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
