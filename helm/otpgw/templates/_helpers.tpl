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

{{/* Port the workers serve /healthz, /readyz and /metrics on; fixed by `otpgw worker`. */}}
{{- define "otpgw.workerPort" -}}8081{{- end -}}

{{/* Where otpgw.toml is mounted. */}}
{{- define "otpgw.configDir" -}}/etc/otpgw{{- end -}}

{{/*
Contents of otpgw.toml: the non-secret settings. Scalars are written with toJson,
whose strings, numbers, booleans and string arrays are valid TOML; a map becomes an
inline table. Keys are sorted, so the text (and its checksum) is stable.
*/}}
{{- define "otpgw.configToml" -}}
{{- $redis := .Values.redis -}}
{{- $settings := dict "redis_username" $redis.username "redis_timeout" $redis.timeout -}}
{{- if $redis.sentinel.enabled -}}
{{- $_ := set $settings "redis_sentinels" $redis.sentinel.hosts -}}
{{- $_ := set $settings "redis_sentinel_master" $redis.sentinel.masterName -}}
{{- else -}}
{{- $_ := set $settings "redis_url" $redis.url -}}
{{- end -}}
{{- $_ := set $settings "redis_cluster" $redis.cluster.enabled -}}
{{- $settings = merge $settings (.Values.config | default dict) -}}
# otpgw settings rendered by the Helm chart {{ include "otpgw.chart" . }}; secrets come from the environment.
{{- range $key := keys $settings | sortAlpha }}
{{- $value := get $settings $key }}
{{- if kindIs "map" $value }}
{{ $key }} = { {{- range $i, $k := keys $value | sortAlpha }}{{ if $i }},{{ end }} {{ toJson $k }} = {{ get $value $k | toJson }}{{ end }} }
{{- else if not (kindIs "invalid" $value) }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{ end -}}

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

{{/*
Refuse contradictory values with a sentence naming the value and what would be valid.
Included by every workload template, so it runs whatever is rendered.
*/}}
{{- define "otpgw.validate" -}}
{{- $v := .Values -}}
{{- if not $v.existingSecret -}}
{{- if not $v.secrets.secretKeys -}}
{{- fail "otpgw: set secrets.secretKeys (HMAC keys, newest first, 16+ characters each) or existingSecret (a Secret holding OTPGW_SECRET_KEYS); otpgw refuses to start without them" -}}
{{- end -}}
{{- if and (not $v.secrets.apiKeys) (not (index ($v.config | default dict) "allow_unauthenticated")) -}}
{{- fail "otpgw: set secrets.apiKeys (caller name: key) or existingSecret (a Secret holding OTPGW_API_KEYS); only behind a trusted gateway set config.allow_unauthenticated=true instead" -}}
{{- end -}}
{{- end -}}
{{- if and $v.redis.sentinel.enabled $v.redis.cluster.enabled -}}
{{- fail "otpgw: redis.sentinel.enabled and redis.cluster.enabled cannot both be true; pick the one your Redis runs" -}}
{{- end -}}
{{- if and $v.redis.sentinel.enabled (not $v.redis.sentinel.hosts) -}}
{{- fail "otpgw: redis.sentinel.enabled needs redis.sentinel.hosts (host:port of each Sentinel)" -}}
{{- end -}}
{{- range $key := list "secret_keys" "api_keys" "redis_password" "redis_url" "redis_username" "redis_timeout" "redis_sentinels" "redis_sentinel_master" "redis_cluster" "dev" }}
{{- if hasKey ($v.config | default dict) $key -}}
{{- fail (printf "otpgw: config.%s is managed by the chart; use %s instead" $key (get (dict "secret_keys" "secrets.secretKeys" "api_keys" "secrets.apiKeys" "redis_password" "secrets.redisPassword" "redis_url" "redis.url" "redis_username" "redis.username" "redis_timeout" "redis.timeout" "redis_sentinels" "redis.sentinel.hosts" "redis_sentinel_master" "redis.sentinel.masterName" "redis_cluster" "redis.cluster.enabled" "dev" "`otpgw dev` outside Kubernetes (dev mode keeps codes in memory)") $key)) -}}
{{- end -}}
{{- end -}}
{{- if $v.modemWorker.enabled -}}
{{- if gt (int $v.modemWorker.replicaCount) 1 -}}
{{- fail (printf "otpgw: modemWorker.replicaCount is %v but must be 0 or 1: a GSM modem is one serial device and only one process may open it (run one modem worker per modem)" $v.modemWorker.replicaCount) -}}
{{- end -}}
{{- if $v.modemWorker.autoscaling.enabled -}}
{{- fail "otpgw: modemWorker.autoscaling.enabled must be false: a HorizontalPodAutoscaler cannot scale a worker that owns a serial device; scale the delivery worker (worker.autoscaling) instead" -}}
{{- end -}}
{{- if not $v.modemWorker.nodeSelector -}}
{{- fail "otpgw: modemWorker.nodeSelector is required: it must pick the node the modem is plugged into (e.g. kubernetes.io/hostname: node-with-modem)" -}}
{{- end -}}
{{- if and (not $v.modemWorker.device.resourceName) (not $v.modemWorker.device.hostPath) -}}
{{- fail "otpgw: modemWorker needs device.hostPath (the node's serial device) or device.resourceName (a device plugin's resource)" -}}
{{- end -}}
{{- end -}}
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
