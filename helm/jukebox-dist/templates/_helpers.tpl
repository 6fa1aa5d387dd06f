{{/* Names and labels. */}}
{{- define "jukebox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jukebox.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "jukebox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jukebox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jukebox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jukebox.labels" -}}
helm.sh/chart: {{ include "jukebox.chart" . }}
{{ include "jukebox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jukebox-dist
{{- end }}

{{- define "jukebox.coordinatorName" -}}
{{- printf "%s-coordinator" (include "jukebox.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of a worker pool's objects: (dict "root" $ "pool" $poolName). */}}
{{- define "jukebox.workerName" -}}
{{- printf "%s-worker-%s" (include "jukebox.fullname" .root) .pool | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "jukebox.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jukebox.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference: (dict "root" $ "image" .Values.images.x). */}}
{{- define "jukebox.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/*
A worker pool's settings: workerDefaults with the pool's own keys on top. Maps merge key by key (probes.startup,
autoscaling, pdb ...), except the ones a pool gives whole (resources, nodeSelector ...); everything else, lists
included, is replaced. Unlike sprig's mergeOverwrite, a pool's 0, false or "" does override the default.
Usage: include "jukebox.pool" (dict "root" $ "values" $poolValues) | fromYaml
*/}}
{{- define "jukebox.pool" -}}
{{- $merged := deepCopy .root.Values.workerDefaults }}
{{- $whole := list "resources" "nodeSelector" "affinity" "tolerations" "topologySpreadConstraints" "podAnnotations" "podLabels" "strategy" "extraArgs" "extraEnv" "levels" }}
{{- range $k, $v := (.values | default dict) }}
{{- if and (kindIs "map" $v) (kindIs "map" (index $merged $k)) (not (has $k $whole)) }}
{{- include "jukebox.mergeInto" (dict "dst" (index $merged $k) "src" $v) }}
{{- else }}
{{- $_ := set $merged $k $v }}
{{- end }}
{{- end }}
{{- toYaml $merged }}
{{- end }}

{{/* Recursive map merge into .dst (mutated; prints nothing). */}}
{{- define "jukebox.mergeInto" -}}
{{- $dst := .dst }}
{{- range $k, $v := .src }}
{{- if and (kindIs "map" $v) (kindIs "map" (index $dst $k)) }}
{{- include "jukebox.mergeInto" (dict "dst" (index $dst $k) "src" $v) }}
{{- else }}
{{- $_ := set $dst $k $v }}
{{- end }}
{{- end }}
{{- end }}

{{/* Volumes every pod has: /tmp, the models, TLS. */}}
{{- define "jukebox.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- if .Values.models.fetch.enabled }}
- name: models
  emptyDir:
    sizeLimit: {{ .Values.models.fetch.sizeLimit }}
{{- else if .Values.models.volume }}
- name: models
  {{- toYaml .Values.models.volume | nindent 2 }}
{{- end }}
{{- if .Values.tls.secretName }}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
    # 0440: readable by the owner and the pod's fsGroup.
    defaultMode: 288
{{- end }}
{{- if .Values.auth.workerTokenSecretName }}
- name: worker-token
  secret:
    secretName: {{ .Values.auth.workerTokenSecretName }}
    items:
      - key: token
        path: token
    defaultMode: 288
{{- end }}
{{- end }}

{{/* Mounts of the servers' containers. */}}
{{- define "jukebox.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if or .Values.models.fetch.enabled .Values.models.volume }}
- name: models
  mountPath: /models
  readOnly: true
{{- end }}
{{- if .Values.tls.secretName }}
- name: tls
  mountPath: {{ .Values.tls.mountPath }}
  readOnly: true
{{- end }}
{{- if .Values.auth.workerTokenSecretName }}
- name: worker-token
  mountPath: /etc/jukebox/worker-token
  readOnly: true
{{- end }}
{{- end }}

{{/* The name the coordinator checks on workers' certificates: tls.workerServerName, else the workers' Service. */}}
{{- define "jukebox.workerServerName" -}}
{{- default (printf "%s-worker.%s.svc" (include "jukebox.fullname" .) .Release.Namespace) .Values.tls.workerServerName }}
{{- end }}

{{/* Environment every server has: its pod's name and IP, and the TLS paths when given. */}}
{{- define "jukebox.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- if .Values.tls.secretName }}
- name: JUKEBOX_TLS_CERT
  value: {{ printf "%s/tls.crt" .Values.tls.mountPath | quote }}
- name: JUKEBOX_TLS_KEY
  value: {{ printf "%s/tls.key" .Values.tls.mountPath | quote }}
- name: JUKEBOX_TLS_CA
  value: {{ printf "%s/ca.crt" .Values.tls.mountPath | quote }}
{{- end }}
{{- end }}

{{/*
Init containers: fetch the model (when asked), then check it against the manifest's hashes.
Usage: include "jukebox.initContainers" (dict "root" $ "image" $imageRef)
*/}}
{{- define "jukebox.initContainers" -}}
{{- $v := .root.Values }}
{{- if $v.models.fetch.enabled }}
- name: fetch-models
  image: {{ $v.models.fetch.image }}
  imagePullPolicy: {{ $v.images.pullPolicy }}
  command: ["/bin/sh", "-c"]
  args:
    - {{ printf "set -eo pipefail\n%s" $v.models.fetch.script | quote }}
  env:
    - name: MODEL_URL
      value: {{ $v.models.fetch.url | quote }}
    - name: HOME
      value: /tmp
    {{- with $v.models.fetch.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  {{- with $v.models.fetch.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: models
      mountPath: /models
{{- end }}
{{- if $v.models.check.enabled }}
- name: check-models
  image: {{ .image }}
  imagePullPolicy: {{ $v.images.pullPolicy }}
  args: ["models", "check", {{ $v.models.path | quote }}]
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  {{- with $v.models.check.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    {{- include "jukebox.volumeMounts" .root | nindent 4 }}
{{- end }}
{{- end }}

{{/* A gRPC probe: (dict "port" N "service" S "p" $probeValues). */}}
{{- define "jukebox.grpcProbe" -}}
grpc:
  port: {{ .port }}
  service: {{ .service | quote }}
periodSeconds: {{ .p.periodSeconds }}
failureThreshold: {{ .p.failureThreshold }}
timeoutSeconds: {{ .p.timeoutSeconds }}
{{- end }}

{{/* preStop: sleep N seconds before SIGTERM (nothing for 0). */}}
{{- define "jukebox.lifecycle" -}}
{{- if gt (int .) 0 }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", {{ . | quote }}]
{{- end }}
{{- end }}

{{/* Whether the ServiceMonitor renders: "true" (always), auto (when the cluster serves monitoring.coreos.com/v1). */}}
{{- define "jukebox.serviceMonitorEnabled" -}}
{{- $want := toString .Values.metrics.serviceMonitor.enabled }}
{{- if or (eq $want "true") (and (eq $want "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}
true
{{- end }}
{{- end }}
