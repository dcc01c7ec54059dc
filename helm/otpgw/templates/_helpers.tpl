{{/*
Names and labels, in the shape bitnami and prometheus-community charts use.
*/}}

{{/* Chart name, overridable. */}}
{{- define "otpgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart>, or just <release> when the release name contains the chart name. */}}
{{- define "otpgw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's resources: <fullname>-<component>. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "otpgw.componentName" -}}
{{- printf "%s-%s" (include "otpgw.fullname" .ctx | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{/* chart label value: <name>-<version>. */}}
{{- define "otpgw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "otpgw.labels" -}}
helm.sh/chart: {{ include "otpgw.chart" . }}
{{ include "otpgw.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otpgw
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels shared by every component. */}}
{{- define "otpgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otpgw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "otpgw.componentLabels" -}}
{{ include "otpgw.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "otpgw.componentSelectorLabels" -}}
{{ include "otpgw.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* commonAnnotations plus extra ones, as YAML (empty when none). Call with (dict "ctx" $ "extra" dict). */}}
{{- define "otpgw.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) .ctx.Values.commonAnnotations -}}
{{- if $all }}{{ toYaml $all }}{{ end -}}
{{- end -}}

{{/* Label key that lets a pod through the API NetworkPolicy when allowExternal is false (a key's name part is at most 63 characters). */}}
{{- define "otpgw.clientLabel" -}}
{{- printf "%s-client" (include "otpgw.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "otpgw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "otpgw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret the pods read: existingSecret or the chart's own. */}}
{{- define "otpgw.secretName" -}}
{{- default (include "otpgw.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Image reference; a digest wins over the tag. */}}
{{- define "otpgw.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* Port the workers serve /healthz, /readyz and /metrics on (OTPGW_WORKER_HEALTH_PORT). */}}
{{- define "otpgw.workerPort" -}}8081{{- end -}}

{{/* Environment of a worker's probe server, as a YAML list. Call with the worker's values. */}}
{{- define "otpgw.workerEnv" -}}
- name: OTPGW_WORKER_HEALTH_PORT
  value: {{ include "otpgw.workerPort" . | quote }}
- name: OTPGW_WORKER_HEALTH_HOST
  value: {{ .healthHost | quote }}
{{- end -}}

{{/* Where otpgw.toml is mounted. */}}
{{- define "otpgw.configDir" -}}/etc/otpgw{{- end -}}

{{/* pod annotations that roll the pods when the settings or the chart's Secret change. */}}
{{- define "otpgw.checksumAnnotations" -}}
checksum/config: {{ include "otpgw.configToml" . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include "otpgw.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{/* data of the chart's Secret (base64 values). */}}
{{- define "otpgw.secretData" -}}
{{- $s := .Values.secrets -}}
{{- $apiKeys := $s.apiKeys | default dict -}}
{{- $extra := $s.extra | default dict -}}
OTPGW_SECRET_KEYS: {{ join "," ($s.secretKeys | default list) | b64enc | quote }}
{{- $pairs := list -}}
{{- range $name := keys $apiKeys | sortAlpha }}
{{- $pairs = append $pairs (printf "%s:%s" $name (get $apiKeys $name)) -}}
{{- end }}
{{- if $pairs }}
OTPGW_API_KEYS: {{ join "," $pairs | b64enc | quote }}
{{- end }}
{{- with $s.redisPassword }}
OTPGW_REDIS_PASSWORD: {{ . | b64enc | quote }}
{{- end }}
{{- range $name := keys $extra | sortAlpha }}
{{ $name }}: {{ get $extra $name | toString | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Pod securityContext of a component: the shared one plus the component's additions. Call with (dict "ctx" $ "values" .Values.api). */}}
{{- define "otpgw.podSecurityContext" -}}
{{- toYaml (merge (deepCopy (.values.podSecurityContext | default dict)) (deepCopy .ctx.Values.podSecurityContext)) -}}
{{- end -}}

{{/* Container securityContext of a component. Call with (dict "ctx" $ "values" .Values.api). */}}
{{- define "otpgw.containerSecurityContext" -}}
{{- toYaml (merge (deepCopy (.values.containerSecurityContext | default dict)) (deepCopy .ctx.Values.containerSecurityContext)) -}}
{{- end -}}

{{/* Soft anti-affinity spreading a component's pods over nodes. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "otpgw.defaultAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "otpgw.componentSelectorLabels" . | nindent 12 }}
{{- end -}}

{{/* Environment shared by every otpgw container. */}}
{{- define "otpgw.env" -}}
- name: OTPGW_CONFIG
  value: {{ printf "%s/otpgw.toml" (include "otpgw.configDir" .) | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* envFrom shared by every otpgw container: the Secret, then extra sources. */}}
{{- define "otpgw.envFrom" -}}
- secretRef:
    name: {{ include "otpgw.secretName" . }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volume mounts shared by every otpgw container. */}}
{{- define "otpgw.volumeMounts" -}}
- name: config
  mountPath: {{ include "otpgw.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Volumes shared by every otpgw pod. */}}
{{- define "otpgw.volumes" -}}
- name: config
  configMap:
    name: {{ include "otpgw.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* HTTP probes on a named port. Call with (dict "values" .Values.api "port" "http"). */}}
{{- define "otpgw.probes" -}}
{{- $port := .port -}}
{{- range $kind, $path := dict "livenessProbe" "/healthz" "readinessProbe" "/readyz" "startupProbe" "/healthz" }}
{{- $probe := get $.values $kind }}
{{- if and $probe $probe.enabled }}
{{ $kind }}:
  httpGet:
    path: {{ $path }}
    port: {{ $port }}
  {{- toYaml (omit $probe "enabled") | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}
