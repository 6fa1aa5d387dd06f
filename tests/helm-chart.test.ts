// helm/jukebox-dist: `helm lint` and `helm template` with the CPU-only and the GPU values files (helm/jukebox-dist/ci/),
// every rendered manifest validated offline against the Kubernetes API schemas (npm kubernetes-models and
// @kubernetes-models/prometheus-operator; KEDA's ScaledObject against tests/fixtures/keda-scaledobject.schema.json),
// then what the schemas cannot see: GPU limits where they belong, gRPC probes on the right service, non-root and
// read-only root filesystems, selectors that select, flags the CLI knows, values.schema.json refusing bad values.
// helm: $HELM_BIN, else node_modules/.cache/helm/helm (.ci/run puts it there), else `helm` on PATH; without one the
// tests skip (with HELM_BIN set, a helm that does not run fails them).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHART = join(ROOT, 'helm', 'jukebox-dist');
const CPU_VALUES = join(CHART, 'ci', 'cpu-values.yaml');
const GPU_VALUES = join(CHART, 'ci', 'gpu-values.yaml');
const CHART_DASHBOARD = join(CHART, 'dashboards', 'jukebox-dashboard.json');
const DEPLOY_DASHBOARD = join(ROOT, 'deploy', 'grafana', 'jukebox-dashboard.json');
const NAMESPACE = 'jukebox';
const RELEASE = 'jr';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function findHelm(): string | undefined {
  const runs = (c: string): boolean => spawnSync(c, ['version', '--short'], { encoding: 'utf8' }).status === 0;
  if (process.env.HELM_BIN) {
    if (!runs(process.env.HELM_BIN)) throw new Error(`HELM_BIN=${process.env.HELM_BIN} does not run`);
    return process.env.HELM_BIN;
  }
  const cached = join(ROOT, 'node_modules', '.cache', 'helm', 'helm');
  if (existsSync(cached) && runs(cached)) return cached;
  return runs('helm') ? 'helm' : undefined;
}

const HELM = findHelm();
const SKIP = HELM ? false : 'no helm: set HELM_BIN or run .ci/run (it fetches helm into node_modules/.cache/helm)';
let helmHome = '';

interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): HelmResult {
  const r = spawnSync(HELM!, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // helm keeps caches and repository config under these: a throwaway folder, nothing written to $HOME.
    env: { ...process.env, HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` → its documents; throws with helm's stderr when it fails. */
function render(args: string[]): Obj[] {
  const r = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0].message}`);
      return d.toJSON() as Obj | null;
    })
    .filter((d): d is Obj => d !== null);
}

function renderFails(args: string[]): string {
  const r = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]);
  assert.notEqual(r.status, 0, `helm template ${args.join(' ')} should fail`);
  return r.stderr;
}

function valuesFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const kedaValidate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'keda-scaledobject.schema.json'), 'utf8')));

/** Validates one manifest against its API schema; throws naming the object and the failing paths. */
async function validate(doc: Obj): Promise<void> {
  const { apiVersion, kind } = doc as { apiVersion: string; kind: string };
  const where = `${kind}/${doc.metadata?.name}`;
  if (apiVersion === 'keda.sh/v1alpha1') {
    if (!kedaValidate(doc)) throw new Error(`${where}: ${JSON.stringify(kedaValidate.errors)}`);
    return;
  }
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
      : group
        ? `kubernetes-models/${group}/${version}/${kind}`
        : `kubernetes-models/${version}/${kind}`;
  let Model: new (d: Obj) => { validate(): void };
  try {
    Model = (await import(mod))[kind];
  } catch (err) {
    throw new Error(`${where}: no schema for ${apiVersion} ${kind} (${(err as Error).message})`);
  }
  try {
    new Model(doc).validate();
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

const byKind = (docs: Obj[], kind: string): Obj[] => docs.filter((d) => d.kind === kind);
const workers = (docs: Obj[]): Obj[] => byKind(docs, 'Deployment').filter((d) => d.metadata.labels['app.kubernetes.io/component'] === 'worker');
const coordinator = (docs: Obj[]): Obj => {
  const c = byKind(docs, 'Deployment').filter((d) => d.metadata.labels['app.kubernetes.io/component'] === 'coordinator');
  assert.equal(c.length, 1);
  return c[0];
};
const poolOf = (d: Obj): string => d.metadata.labels['jukebox-dist/pool'];
const mainContainer = (d: Obj): Obj => d.spec.template.spec.containers[0];
const allContainers = (podSpec: Obj): Obj[] => [...(podSpec.initContainers ?? []), ...podSpec.containers];
const podSpecs = (docs: Obj[]): Obj[] => [...byKind(docs, 'Deployment').map((d) => d.spec.template.spec), ...byKind(docs, 'Pod').map((p) => p.spec)];

/** The value after `flag` in args (undefined: absent). */
function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Long options `jukebox <command> --help` lists. */
function cliFlags(command: string): Set<string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'client', 'cli.ts'), command, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return new Set(r.stdout.match(/--[a-z][a-z-]*/g) ?? []);
}

// helm reads no file outside the chart: the ConfigMap embeds a copy of the dashboard, kept identical (needs no helm).
test('the chart\'s dashboard is a copy of deploy/grafana/jukebox-dashboard.json', { skip: existsSync(DEPLOY_DASHBOARD) ? false : 'no deploy/grafana/jukebox-dashboard.json' }, () => {
  assert.equal(readFileSync(CHART_DASHBOARD, 'utf8'), readFileSync(DEPLOY_DASHBOARD, 'utf8'), 'copy deploy/grafana/jukebox-dashboard.json to helm/jukebox-dist/dashboards/');
});

describe('helm chart jukebox-dist', { skip: SKIP }, () => {
  let cpu: Obj[];
  let gpu: Obj[];
  let tmp: string;

  before(() => {
    helmHome = mkdtempSync(join(tmpdir(), 'jukebox-helm-'));
    tmp = mkdtempSync(join(tmpdir(), 'jukebox-values-'));
    cpu = render(['-f', CPU_VALUES]);
    gpu = render(['-f', GPU_VALUES]);
  });
  after(() => {
    rmSync(helmHome, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  test('helm lint --strict passes with the default, the CPU-only and the GPU values', () => {
    for (const args of [[], ['-f', CPU_VALUES], ['-f', GPU_VALUES]]) {
      const r = helm(['lint', CHART, '--strict', ...args]);
      assert.equal(r.status, 0, `helm lint ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('every rendered manifest of both values files is valid against the Kubernetes API schemas', async () => {
    const counts: Record<string, number> = {};
    for (const [name, docs] of [['cpu', cpu], ['gpu', gpu]] as const) {
      for (const doc of docs) await validate(doc);
      counts[name] = docs.length;
    }
    // What each renders (a kind appearing or vanishing is a change worth a look).
    const kinds = (docs: Obj[]): string =>
      Object.entries(docs.reduce<Record<string, number>>((m, d) => ((m[d.kind] = (m[d.kind] ?? 0) + 1), m), {}))
        .sort()
        .map(([k, n]) => `${k}=${n}`)
        .join(' ');
    assert.equal(kinds(cpu), 'ConfigMap=1 Deployment=5 Pod=1 PodDisruptionBudget=5 Service=2 ServiceAccount=1');
    assert.equal(kinds(gpu), 'ConfigMap=1 Deployment=5 Pod=1 PodDisruptionBudget=5 ScaledObject=3 Service=2 ServiceAccount=1 ServiceMonitor=1');
    assert.deepEqual(counts, { cpu: 15, gpu: 19 });
  });

  test('the validators catch what they should (a wrong type, a missing field, a numeric KEDA threshold)', async () => {
    const d = structuredClone(coordinator(cpu));
    d.spec.replicas = 'two';
    await assert.rejects(validate(d), /replicas/);
    const noImage = structuredClone(coordinator(cpu));
    delete noImage.spec.template.spec.containers[0].name;
    await assert.rejects(validate(noImage), /name/);
    const so = structuredClone(byKind(gpu, 'ScaledObject')[0]);
    so.spec.triggers[0].metadata.threshold = 16;
    await assert.rejects(validate(so), /threshold|string/);
  });

  test('GPU pools: nvidia.com/gpu in limits only, runtimeClassName, GPU tolerations and nodeSelector, the CUDA image', () => {
    const pools = workers(gpu);
    assert.deepEqual(pools.map(poolOf).sort(), ['decode', 'level0', 'level1', 'level2']);
    for (const d of pools) {
      const spec = d.spec.template.spec;
      const c = mainContainer(d);
      assert.equal(c.resources.limits['nvidia.com/gpu'], 1, poolOf(d));
      assert.equal(c.resources.requests?.['nvidia.com/gpu'], undefined, `${poolOf(d)}: an extended resource in requests must equal limits; keep it out`);
      assert.equal(spec.runtimeClassName, 'nvidia');
      assert.ok(spec.tolerations.some((t: Obj) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'));
      assert.equal(spec.nodeSelector['nvidia.com/gpu.present'], 'true');
      assert.match(c.image, /worker-cuda:0\.1\.0$/);
      assert.equal(flag(c.args, '--provider'), 'cuda');
    }
    // A pool's own nodeSelector replaces the default one whole.
    const top = pools.find((d) => poolOf(d) === 'level2')!;
    assert.equal(top.spec.template.spec.nodeSelector['nvidia.com/gpu.product'], 'NVIDIA-H100-80GB-HBM3');
  });

  test('CPU-only: no GPU resource, runtime class or CUDA image anywhere', () => {
    const text = JSON.stringify(cpu);
    assert.doesNotMatch(text, /nvidia\.com\/gpu/);
    assert.doesNotMatch(text, /runtimeClassName/);
    assert.doesNotMatch(text, /worker-cuda/);
    for (const d of workers(cpu)) assert.equal(flag(mainContainer(d).args, '--provider'), 'cpu');
  });

  test('probes are gRPC health checks on the server port (the plaintext health port with TLS): Worker/Coordinator for startup and readiness, the server for liveness', () => {
    for (const docs of [cpu, gpu]) {
      for (const d of byKind(docs, 'Deployment')) {
        const component = d.metadata.labels['app.kubernetes.io/component'];
        const service = component === 'worker' ? 'jukebox.v1.Worker' : 'jukebox.v1.Coordinator';
        const c = mainContainer(d);
        const grpcPort = c.ports.find((p: Obj) => p.name === 'grpc').containerPort;
        assert.equal(flag(c.args, '--port'), String(grpcPort));
        // kubelet's gRPC probes cannot do TLS: with TLS they go to the plaintext health-only port.
        const tls = c.args.includes('--tls-cert');
        const healthPort = c.ports.find((p: Obj) => p.name === 'health')?.containerPort;
        assert.equal(healthPort !== undefined, tls, `${d.metadata.name}: a health port exactly when TLS is on`);
        if (tls) assert.equal(flag(c.args, '--health-port'), String(healthPort));
        const probePort = tls ? healthPort : grpcPort;
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          assert.ok(c[probe]?.grpc, `${d.metadata.name}: ${probe} is not a gRPC probe`);
          assert.equal(c[probe].grpc.port, probePort, `${d.metadata.name}: ${probe} port`);
          assert.equal(c[probe].httpGet ?? c[probe].tcpSocket ?? c[probe].exec, undefined);
        }
        assert.equal(c.startupProbe.grpc.service, service);
        assert.equal(c.readinessProbe.grpc.service, service);
        assert.equal(c.livenessProbe.grpc.service, '');
      }
    }
    // Loading a large model and its warm-up run get minutes before liveness starts.
    for (const d of workers(gpu)) {
      const s = mainContainer(d).startupProbe;
      assert.ok(s.periodSeconds * s.failureThreshold >= 600, `${d.metadata.name}: startup allows ${s.periodSeconds * s.failureThreshold} s`);
    }
  });

  test('every pod runs non-root with a read-only root filesystem, /tmp on an emptyDir, no privilege escalation', () => {
    for (const docs of [cpu, gpu]) {
      for (const spec of podSpecs(docs)) {
        assert.equal(spec.securityContext.runAsNonRoot, true);
        assert.ok(Number.isInteger(spec.securityContext.runAsUser) && spec.securityContext.runAsUser > 0);
        assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
        assert.equal(spec.automountServiceAccountToken, false);
        const tmpVolume = spec.volumes.find((v: Obj) => v.name === 'tmp');
        assert.ok(tmpVolume?.emptyDir, 'an emptyDir named tmp');
        for (const c of allContainers(spec)) {
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
          assert.ok(c.volumeMounts.some((m: Obj) => m.name === 'tmp' && m.mountPath === '/tmp'), `${c.name}: /tmp mounted`);
          for (const m of c.volumeMounts) assert.ok(spec.volumes.some((v: Obj) => v.name === m.name), `${c.name}: volume ${m.name} exists`);
        }
      }
    }
  });

  test('models: checked against the manifest by an init container; the GPU values mount a read-only PVC at /models', () => {
    for (const docs of [cpu, gpu]) {
      for (const d of byKind(docs, 'Deployment')) {
        const init = d.spec.template.spec.initContainers;
        const check = init.find((c: Obj) => c.name === 'check-models');
        const model = flag(mainContainer(d).args, '--model');
        assert.deepEqual(check.args, ['models', 'check', model]);
        assert.equal(check.image, mainContainer(d).image, 'checked by the image that runs it');
      }
    }
    for (const d of byKind(gpu, 'Deployment')) {
      const spec = d.spec.template.spec;
      assert.equal(spec.volumes.find((v: Obj) => v.name === 'models').persistentVolumeClaim.claimName, 'jukebox-models');
      assert.deepEqual(
        mainContainer(d).volumeMounts.find((m: Obj) => m.name === 'models'),
        { name: 'models', mountPath: '/models', readOnly: true },
      );
      assert.equal(flag(mainContainer(d).args, '--model'), '/models/5b_lyrics');
    }
    for (const d of byKind(cpu, 'Deployment')) assert.equal(flag(mainContainer(d).args, '--model'), '/app/models/tiny');
  });

  test('models fetched by an init container into an emptyDir, then checked', async () => {
    const f = valuesFile(tmp, 'fetch.yaml', 'models:\n  path: /models/tiny\n  fetch:\n    enabled: true\n    url: https://models.example.com/tiny.tar.gz\n');
    const docs = render(['-f', CPU_VALUES, '-f', f]);
    for (const doc of docs) await validate(doc);
    for (const d of byKind(docs, 'Deployment')) {
      const spec = d.spec.template.spec;
      assert.deepEqual(spec.initContainers.map((c: Obj) => c.name), ['fetch-models', 'check-models']);
      const fetch = spec.initContainers[0];
      assert.equal(fetch.env.find((e: Obj) => e.name === 'MODEL_URL').value, 'https://models.example.com/tiny.tar.gz');
      assert.ok(fetch.volumeMounts.some((m: Obj) => m.name === 'models' && m.mountPath === '/models' && !m.readOnly));
      assert.ok(spec.volumes.find((v: Obj) => v.name === 'models').emptyDir);
    }
  });

  test('worker args: the pool\'s levels, decode only in the decode pool, NATS, the pod IP advertised; flags the CLI knows', () => {
    const workerFlags = cliFlags('worker');
    const coordinatorFlags = cliFlags('coordinator');
    const expectLevels: Record<string, string> = { level2: '2', level1: '1', level0: '0', decode: 'none' };
    for (const docs of [cpu, gpu]) {
      for (const d of workers(docs)) {
        const c = mainContainer(d);
        assert.equal(c.args[0], 'worker');
        assert.equal(flag(c.args, '--levels'), expectLevels[poolOf(d)]);
        assert.equal(c.args.includes('--no-decode'), poolOf(d) !== 'decode');
        assert.equal(flag(c.args, '--nats'), 'nats://nats.jukebox.svc:4222');
        assert.equal(flag(c.args, '--host'), '0.0.0.0');
        assert.equal(flag(c.args, '--advertise'), `$(POD_IP):${flag(c.args, '--port')}`);
        assert.equal(flag(c.args, '--metrics-port'), String(c.ports.find((p: Obj) => p.name === 'metrics').containerPort));
        for (const a of c.args.filter((x: string) => x.startsWith('--'))) assert.ok(workerFlags.has(a), `jukebox worker has no ${a}`);
      }
      const c = mainContainer(coordinator(docs));
      assert.equal(c.args[0], 'coordinator');
      assert.equal(flag(c.args, '--coordinator-id'), '$(POD_NAME)');
      for (const a of c.args.filter((x: string) => x.startsWith('--'))) assert.ok(coordinatorFlags.has(a), `jukebox coordinator has no ${a}`);
      // $(VAR) in args is expanded from the container's env; an undefined one stays literal.
      for (const d of byKind(docs, 'Deployment')) {
        const main = mainContainer(d);
        const env = new Set(main.env.map((e: Obj) => e.name));
        for (const a of main.args as string[]) for (const m of a.matchAll(/\$\(([A-Z_]+)\)/g)) assert.ok(env.has(m[1]), `${d.metadata.name}: $(${m[1]}) undefined`);
      }
    }
  });

  test('a pool\'s 0 or false overrides a non-zero default (no sprig mergeOverwrite trap)', () => {
    const f = valuesFile(tmp, 'override.yaml', 'workers:\n  decode:\n    provider: cpu\n    gpus: 0\n    runtimeClassName: ""\n    pdb:\n      enabled: false\n');
    const docs = render(['-f', GPU_VALUES, '-f', f]);
    const decode = workers(docs).find((d) => poolOf(d) === 'decode')!;
    assert.equal(mainContainer(decode).resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(decode.spec.template.spec.runtimeClassName, undefined);
    assert.equal(flag(mainContainer(decode).args, '--provider'), 'cpu');
    assert.match(mainContainer(decode).image, /\/worker:0\.1\.0$/);
    assert.ok(!byKind(docs, 'PodDisruptionBudget').some((p) => p.metadata.name.endsWith('-decode')));
    // The rest of the pool's probes still come from the defaults (deep merge).
    const level0 = workers(docs).find((d) => poolOf(d) === 'level0')!;
    assert.equal(mainContainer(level0).startupProbe.failureThreshold, 120);
    assert.equal(mainContainer(level0).startupProbe.periodSeconds, 10);
  });

  test('drain: preStop before SIGTERM, a grace period longer than a window; PodDisruptionBudgets select their pods', () => {
    for (const docs of [cpu, gpu]) {
      for (const d of byKind(docs, 'Deployment')) {
        const spec = d.spec.template.spec;
        const preStop = mainContainer(d).lifecycle?.preStop?.exec?.command;
        assert.equal(preStop?.[0], 'sleep', `${d.metadata.name}: preStop`);
        assert.ok(spec.terminationGracePeriodSeconds > Number(preStop[1]));
        if (d.metadata.labels['app.kubernetes.io/component'] === 'worker') {
          assert.ok(spec.terminationGracePeriodSeconds >= 120);
          // The worker drains calls in flight for most of the grace period, and stops before it ends.
          const drain = Number(flag(mainContainer(d).args, '--drain-seconds'));
          assert.ok(drain >= 60 && drain + Number(preStop[1]) < spec.terminationGracePeriodSeconds, `${d.metadata.name}: drain ${drain} s`);
        }
        const labels = d.spec.template.metadata.labels;
        assert.ok(selects(d.spec.selector.matchLabels, labels));
        const pdbs = byKind(docs, 'PodDisruptionBudget').filter((p) => selects(p.spec.selector.matchLabels, labels));
        assert.equal(pdbs.length, 1, `${d.metadata.name}: one PDB selects its pods`);
        assert.equal(pdbs[0].spec.maxUnavailable, 1);
        // No PDB selects pods of another Deployment (a pool's PDB would block the others' evictions).
        for (const other of byKind(docs, 'Deployment').filter((o) => o !== d)) assert.ok(!selects(pdbs[0].spec.selector.matchLabels, other.spec.template.metadata.labels));
      }
    }
  });

  test('the coordinator: one replica, Recreate (never two coordinators behind the Service), the leases\' owner named by pod', () => {
    for (const docs of [cpu, gpu]) {
      const c = coordinator(docs);
      assert.equal(c.spec.replicas, 1);
      assert.equal(c.spec.strategy.type, 'Recreate');
    }
  });

  test('Services select pods and target ports the pods name', () => {
    for (const docs of [cpu, gpu]) {
      for (const s of byKind(docs, 'Service')) {
        const pods = byKind(docs, 'Deployment').filter((d) => selects(s.spec.selector, d.spec.template.metadata.labels));
        assert.ok(pods.length > 0, `${s.metadata.name} selects nothing`);
        for (const p of s.spec.ports) for (const d of pods) assert.ok(mainContainer(d).ports.some((cp: Obj) => cp.name === p.targetPort), `${s.metadata.name}: ${p.targetPort}`);
      }
    }
  });

  test('ServiceMonitor: none when off, one when on; auto follows the cluster\'s monitoring.coreos.com/v1', async () => {
    assert.equal(byKind(cpu, 'ServiceMonitor').length, 0);
    const [sm] = byKind(gpu, 'ServiceMonitor');
    assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
    const services = byKind(gpu, 'Service').filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels));
    assert.deepEqual(services.map((s) => s.metadata.labels['app.kubernetes.io/component']).sort(), ['coordinator', 'worker']);
    for (const s of services) assert.ok(s.spec.ports.some((p: Obj) => p.name === sm.spec.endpoints[0].port));
    assert.equal(byKind(render([]), 'ServiceMonitor').length, 0, 'auto without the API');
    const withApi = render(['--api-versions', 'monitoring.coreos.com/v1']);
    assert.equal(byKind(withApi, 'ServiceMonitor').length, 1, 'auto with the API');
    for (const doc of withApi) await validate(doc);
  });

  test('the Grafana dashboard ConfigMap: label grafana_dashboard, the chart\'s dashboard JSON', () => {
    for (const docs of [cpu, gpu]) {
      const [cm] = byKind(docs, 'ConfigMap');
      assert.equal(cm.metadata.labels.grafana_dashboard, '1');
      assert.deepEqual(JSON.parse(cm.data['jukebox-dashboard.json']), JSON.parse(readFileSync(CHART_DASHBOARD, 'utf8')));
    }
    assert.equal(byKind(gpu, 'ConfigMap')[0].metadata.namespace, 'monitoring');
  });

  test('KEDA: a ScaledObject per autoscaled pool on its levels\' queue depth; autoscaled Deployments leave replicas to it', () => {
    const scaled = byKind(gpu, 'ScaledObject');
    const deployments = new Map(byKind(gpu, 'Deployment').map((d) => [d.metadata.name, d]));
    assert.deepEqual(scaled.map((s) => s.spec.scaleTargetRef.name.replace(/.*-worker-/, '')).sort(), ['level0', 'level1', 'level2']);
    for (const s of scaled) {
      const d = deployments.get(s.spec.scaleTargetRef.name);
      assert.ok(d, `${s.metadata.name} targets a Deployment of the release`);
      assert.equal(d.spec.replicas, undefined, 'replicas left to the autoscaler');
      const level = flag(mainContainer(d).args, '--levels');
      const { query } = s.spec.triggers[0].metadata;
      assert.match(query, /jukebox_windows_\(queued\|running\)/);
      assert.ok(query.includes(`level=~"${level}"`), query);
      assert.ok(query.includes(`service="${RELEASE}-jukebox-dist-coordinator"`), query);
    }
    assert.equal(scaled.find((s) => s.metadata.name.endsWith('level2'))!.spec.minReplicaCount, 0);
    assert.equal(workers(gpu).find((d) => poolOf(d) === 'decode')!.spec.replicas, 1);
  });

  test('HPA instead of KEDA: autoscaling/v2 on an External metric per level; minReplicas 0 refused', async () => {
    assert.match(renderFails(['-f', GPU_VALUES, '--set', 'autoscaling.engine=hpa']), /minReplicas 0 needs engine keda/);
    const docs = render(['-f', GPU_VALUES, '--set', 'autoscaling.engine=hpa', '--set', 'workers.level2.autoscaling.minReplicas=1']);
    const hpas = byKind(docs, 'HorizontalPodAutoscaler');
    assert.equal(hpas.length, 3);
    assert.equal(byKind(docs, 'ScaledObject').length, 0);
    for (const h of hpas) {
      await validate(h);
      assert.equal(h.spec.metrics[0].type, 'External');
      assert.equal(h.spec.metrics[0].external.metric.name, 'jukebox_windows_pending');
    }
  });

  test('TLS: the secret mounted read-only and its paths in the environment when given, nothing otherwise', () => {
    for (const d of byKind(gpu, 'Deployment')) {
      const spec = d.spec.template.spec;
      assert.equal(spec.volumes.find((v: Obj) => v.name === 'tls').secret.secretName, 'jukebox-tls');
      const c = mainContainer(d);
      assert.ok(c.volumeMounts.some((m: Obj) => m.name === 'tls' && m.readOnly && m.mountPath === '/etc/jukebox/tls'));
      assert.equal(c.env.find((e: Obj) => e.name === 'JUKEBOX_TLS_CERT').value, '/etc/jukebox/tls/tls.crt');
      // The servers serve TLS with it.
      assert.equal(flag(c.args, '--tls-cert'), '/etc/jukebox/tls/tls.crt');
      assert.equal(flag(c.args, '--tls-key'), '/etc/jukebox/tls/tls.key');
    }
    // Workers take calls only from certificates ca.crt signed; the coordinator presents one and checks theirs.
    for (const d of workers(gpu)) assert.equal(flag(mainContainer(d).args, '--tls-client-ca'), '/etc/jukebox/tls/ca.crt');
    const c = mainContainer(coordinator(gpu));
    assert.equal(flag(c.args, '--worker-tls-ca'), '/etc/jukebox/tls/ca.crt');
    assert.equal(flag(c.args, '--worker-tls-cert'), '/etc/jukebox/tls/tls.crt');
    assert.equal(flag(c.args, '--worker-tls-server-name'), `${RELEASE}-jukebox-dist-worker.${NAMESPACE}.svc`);
    assert.equal(flag(c.args, '--tls-client-ca'), undefined, 'the coordinator takes clients without certificates (tokens)');
    // helm test trusts the CA.
    const testPod = byKind(gpu, 'Pod')[0];
    assert.equal(flag(testPod.spec.containers[0].args, '--tls-ca'), '/etc/jukebox/tls/ca.crt');
    assert.doesNotMatch(JSON.stringify(cpu), /JUKEBOX_TLS|"tls"|--tls|--health-port/);
  });

  test('auth: the tokens file on the coordinator only, the worker secret on both, helm test\'s token; nothing by default', async () => {
    const docs = render(['-f', GPU_VALUES, '--set', 'auth.tokensSecretName=jukebox-tokens,auth.workerTokenSecretName=jukebox-worker-token,auth.testTokenSecretName=jukebox-test-token']);
    const coord = coordinator(docs);
    const c = mainContainer(coord);
    assert.equal(flag(c.args, '--tokens-file'), '/etc/jukebox/auth/tokens');
    assert.equal(flag(c.args, '--worker-token-file'), '/etc/jukebox/worker-token/token');
    const mounted = (d: Obj, volume: string): string | undefined => mainContainer(d).volumeMounts.find((m: Obj) => m.name === volume && m.readOnly)?.mountPath;
    const secretOf = (d: Obj, volume: string): string | undefined => d.spec.template.spec.volumes.find((v: Obj) => v.name === volume)?.secret?.secretName;
    assert.equal(mounted(coord, 'tokens'), '/etc/jukebox/auth');
    assert.equal(secretOf(coord, 'tokens'), 'jukebox-tokens');
    assert.equal(secretOf(coord, 'worker-token'), 'jukebox-worker-token');
    for (const d of workers(docs)) {
      assert.equal(flag(mainContainer(d).args, '--worker-token-file'), '/etc/jukebox/worker-token/token');
      assert.equal(mounted(d, 'worker-token'), '/etc/jukebox/worker-token');
      assert.equal(secretOf(d, 'tokens'), undefined, 'workers never see the tokens file');
      assert.equal(flag(mainContainer(d).args, '--tokens-file'), undefined);
    }
    const testEnv = byKind(docs, 'Pod')[0].spec.containers[0].env;
    assert.deepEqual(testEnv.find((e: Obj) => e.name === 'JUKEBOX_TOKEN').valueFrom.secretKeyRef, { name: 'jukebox-test-token', key: 'token' });
    await Promise.all(docs.map(validate));
    assert.match(renderFails(['-f', GPU_VALUES, '--set', 'auth.tokensSecretName=jukebox-tokens']), /auth.testTokenSecretName is required/);
    for (const d of [...cpu, ...gpu]) assert.doesNotMatch(JSON.stringify(d), /tokens-file|worker-token|JUKEBOX_TOKEN/);
  });

  test('values.schema.json refuses bad values', () => {
    const bad: [string, string, RegExp][] = [
      ['replicas "two"', 'workers:\n  level0:\n    replicas: two\n', /replicas/],
      ['a typo in a pool key', 'workers:\n  level0:\n    replica: 2\n', /replica/],
      ['an unknown provider', 'workerDefaults:\n  provider: rocm\n', /provider/],
      ['an empty NATS URL', 'nats:\n  url: ""\n', /url/],
      ['fetch without a URL', 'models:\n  path: /models/x\n  fetch:\n    enabled: true\n', /url/],
      ['a volume but a model path outside /models', 'models:\n  path: /app/models/tiny\n  volume:\n    persistentVolumeClaim:\n      claimName: m\n', /path/],
      ['a pool name that is no DNS label', 'workers:\n  Level_0:\n    levels: [0]\n', /Level_0|propertyNames|pattern/],
      ['levels as a string', 'workers:\n  level0:\n    levels: "0,1"\n', /levels/],
      ['serviceMonitor.enabled "yes"', 'metrics:\n  serviceMonitor:\n    enabled: "yes"\n', /enabled/],
    ];
    for (const [what, yaml, message] of bad) {
      const err = renderFails(['-f', CPU_VALUES, '-f', valuesFile(tmp, 'bad.yaml', yaml)]);
      assert.match(err, /schema/, `${what}: ${err}`);
      assert.match(err, message, `${what}: ${err}`);
    }
    // gpus without the CUDA provider: refused by the template.
    assert.match(renderFails(['-f', CPU_VALUES, '--set', 'workers.level0.gpus=1']), /set provider: cuda/);
  });
});
