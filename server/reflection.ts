// gRPC server reflection from the real .proto files: each file under its own name (jukebox/v1/coordinator.proto,
// grpc/health/v1/health.proto, ...) with its field names as written (snake_case), and each server listing only
// its own service, health and reflection. @grpc/reflection fed proto-loader's package definition would serve one
// made-up file per package (jukebox_v1.proto) with camelCase field names.
import * as grpc from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import descriptorModule from 'protobufjs/ext/descriptor/index.js';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR } from '../proto/index.js';

// A CommonJS module that extends protobufjs and exports the descriptor types: no static named exports.
const descriptor = descriptorModule as unknown as typeof import('protobufjs/ext/descriptor/index.js');
const require = createRequire(import.meta.url);
const packageDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));

/** Health and reflection: served next to every service. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/** The canonical name of each .proto file a server may describe, and where it lies. */
function protoFiles(): Map<string, string> {
  const reflection = join(packageDir('@grpc/reflection'), 'build', 'proto');
  return new Map([
    ['jukebox/v1/common.proto', join(PROTO_DIR, 'jukebox/v1/common.proto')],
    ['jukebox/v1/coordinator.proto', join(PROTO_DIR, 'jukebox/v1/coordinator.proto')],
    ['jukebox/v1/worker.proto', join(PROTO_DIR, 'jukebox/v1/worker.proto')],
    ['grpc/health/v1/health.proto', join(packageDir('grpc-health-check'), 'proto', 'health', 'v1', 'health.proto')],
    ['grpc/reflection/v1/reflection.proto', join(reflection, 'grpc', 'reflection', 'v1', 'reflection.proto')],
    ['grpc/reflection/v1alpha/reflection.proto', join(reflection, 'grpc', 'reflection', 'v1alpha', 'reflection.proto')],
  ]);
}

interface DescribedFile {
  name: string;
  /** Canonical names of the files it uses types of. */
  dependencies: Set<string>;
  services: string[];
  /** The encoded FileDescriptorProto. */
  bytes: Uint8Array;
}

type Described = protobuf.Type | protobuf.Enum | protobuf.Service;
type WithDescriptor = { toDescriptor(edition?: string): protobuf.Message & Record<string, unknown> };

let cached: Map<string, DescribedFile> | undefined;

/** Every known file's descriptor, as protoc writes it: fully qualified type names, proto3 optional fields. */
export function describedFiles(): Map<string, DescribedFile> {
  if (cached) return cached;
  const files = protoFiles();
  const byPath = new Map([...files].map(([name, path]) => [path, name]));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => files.get(target) ?? target;
  root.loadSync([...files.keys()], { keepCase: true });
  root.resolveAll();
  // Top-level messages, enums and services, by the file that declares them.
  const declared = new Map<string, { pkg: string; objects: Described[] }>();
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type || obj instanceof protobuf.Enum || obj instanceof protobuf.Service) {
        const name = byPath.get(obj.filename ?? '');
        if (!name) continue;
        const entry = declared.get(name) ?? { pkg: ns.fullName.replace(/^\./, ''), objects: [] };
        entry.objects.push(obj);
        declared.set(name, entry);
      } else if (obj instanceof protobuf.Namespace) {
        walk(obj);
      }
    }
  };
  walk(root);
  const fileOf = (fullName: string): string | undefined => {
    const obj = root.lookup(fullName);
    let top: protobuf.ReflectionObject | null = obj;
    while (top?.parent && (top.parent instanceof protobuf.Type)) top = top.parent;
    return top?.filename ? byPath.get(top.filename) : undefined;
  };
  cached = new Map();
  for (const [name, { pkg, objects }] of declared) {
    const dependencies = new Set<string>();
    const use = (fullName: string): string => {
      const dep = fileOf(fullName);
      if (dep && dep !== name) dependencies.add(dep);
      return fullName.startsWith('.') ? fullName : `.${fullName}`;
    };
    const messages = objects.filter((o): o is protobuf.Type => o instanceof protobuf.Type).map((t) => messageDescriptor(t, use));
    const enums = objects.filter((o): o is protobuf.Enum => o instanceof protobuf.Enum).map((e) => (e as unknown as WithDescriptor).toDescriptor());
    const services = objects.filter((o): o is protobuf.Service => o instanceof protobuf.Service);
    const serviceDescriptors = services.map((s) => {
      const d = (s as unknown as WithDescriptor).toDescriptor() as unknown as { method: { inputType: string; outputType: string }[] };
      for (const m of d.method) {
        m.inputType = use(m.inputType);
        m.outputType = use(m.outputType);
      }
      return d;
    });
    const file = descriptor.FileDescriptorProto.create({
      name,
      package: pkg,
      dependency: [...dependencies].sort(),
      messageType: messages,
      enumType: enums,
      service: serviceDescriptors,
      syntax: 'proto3',
    });
    cached.set(name, { name, dependencies, services: services.map((s) => s.fullName.replace(/^\./, '')), bytes: descriptor.FileDescriptorProto.encode(file).finish() });
  }
  return cached;
}

/** A message's descriptor with every field's type fully qualified (protobufjs writes names relative to the parent). */
function messageDescriptor(type: protobuf.Type, use: (fullName: string) => string): Record<string, unknown> {
  type FieldDescriptor = { name: string; typeName?: string; jsonName?: string; proto3Optional?: boolean; proto3_optional?: boolean; oneofIndex?: number; options?: object };
  const d = (type as unknown as WithDescriptor).toDescriptor('proto3') as unknown as { field: FieldDescriptor[]; nestedType: { name: string }[]; oneofDecl?: { name: string }[] };
  for (const field of type.fieldsArray) {
    const fd = d.field.find((f) => f.name === field.name);
    if (!fd) continue;
    if (field.resolvedType) fd.typeName = use(field.resolvedType.fullName);
    // protobufjs sets the snake_case key, which its own FieldDescriptorProto type does not encode.
    if (field.options?.proto3_optional) fd.proto3Optional = true;
    delete fd.proto3_optional;
    if (fd.options && descriptor.FieldOptions.encode(fd.options).finish().length === 0) delete fd.options;
    fd.jsonName = jsonName(fd.name);
  }
  // protoc lists the synthetic oneofs of proto3 optional fields after every real oneof; protobufjs keeps declaration order.
  if (d.oneofDecl && d.oneofDecl.length > 1) {
    // Own properties only: descriptor messages inherit a default oneofIndex of 0 from their prototype.
    const inOneof = (f: FieldDescriptor): boolean => Object.hasOwn(f, 'oneofIndex');
    const synthetic = (i: number): boolean => d.field.some((f) => inOneof(f) && f.oneofIndex === i && f.proto3Optional === true);
    const order = d.oneofDecl.map((_, i) => i).sort((a, b) => Number(synthetic(a)) - Number(synthetic(b)) || a - b);
    const moved = new Map(order.map((old, now) => [old, now]));
    d.oneofDecl = order.map((i) => d.oneofDecl![i]);
    for (const f of d.field) if (inOneof(f)) f.oneofIndex = moved.get(f.oneofIndex!);
  }
  for (const nested of type.nestedArray) {
    if (!(nested instanceof protobuf.Type)) continue;
    const i = d.nestedType.findIndex((n) => n.name === nested.name);
    if (i >= 0) d.nestedType[i] = messageDescriptor(nested, use) as { name: string };
  }
  return d as unknown as Record<string, unknown>;
}

/** protoc's json_name: underscores dropped, the character after each one upper-cased. */
function jsonName(name: string): string {
  return name.replace(/_+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase());
}

/**
 * Registers reflection (v1 and v1alpha) on `server`, describing `services` (fully qualified), health and
 * reflection itself: the files that declare them and the files those use, nothing else.
 */
export function addReflection(server: grpc.Server, services: string[]): void {
  const all = describedFiles();
  const listed = [...services, HEALTH_SERVICE, ...REFLECTION_SERVICES];
  const wanted = new Set<string>();
  const add = (name: string): void => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const dep of all.get(name)?.dependencies ?? []) add(dep);
  };
  for (const s of listed) {
    const file = [...all.values()].find((f) => f.services.includes(s));
    if (!file) throw new Error(`reflection: no .proto file declares service ${s}`);
    add(file.name);
  }
  const fileDescriptorProtos = [...wanted].map((n) => Buffer.from(all.get(n)!.bytes));
  // @grpc/reflection reads `fileDescriptorProtos` off the values of a package definition.
  const definition = { files: { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  new ReflectionService(definition, { services: listed }).addToServer(server);
}
