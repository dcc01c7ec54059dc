{{- /* The one Deployment template every component renders through. */ -}}

{{/* preStop hook: `otpgw drain` makes every answer say Connection: close (kept-alive
connections end cleanly after a full answer), then waits while Services and Ingress
controllers drop the pod's endpoint, so no new request meets a stopping server. */}}
{{- define "otpgw.lifecycle" -}}
{{- if gt (int .preStopSleepSeconds) 0 -}}
preStop:
  exec:
    command: ["otpgw", "drain", "--wait", {{ .preStopSleepSeconds | toString | quote }}]
{{- end -}}
{{- end -}}

{{/*
One otpgw Deployment. The API, the delivery worker and the modem worker are all this
template with their own specifics, so security, probes, checksums, shutdown and
scheduling stay the same shape everywhere. Call with a dict:
  ctx                 the root context ($)
  component           api | worker | modem-worker: resource names, labels, container name
  values              the component's values (.Values.api, ...)
  args                the command line after `otpgw` (list)
  env                 the component's own EnvVar entries (list of dicts)
  port                the container port: (dict "name" "http" "containerPort" 8080)
  probePort           optional: a port of its own for the probes (dict "name" "probes" "containerPort" 8079)
  spread              true: without values.affinity, a soft anti-affinity over nodes
  strategy            optional; default values.updateStrategy
  podSecurityContext  optional; default the shared one plus values.podSecurityContext
  resources           optional; default values.resources
  volumes             optional extra volumes (list)
  volumeMounts        optional extra volume mounts (list)
*/}}
{{- define "otpgw.deployment" -}}
{{- $ctx := .ctx -}}
{{- $values := .values -}}
{{- $names := dict "ctx" $ctx "component" .component -}}
{{- $autoscaled := and $values.autoscaling $values.autoscaling.enabled -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "otpgw.componentName" $names }}
  namespace: {{ $ctx.Release.Namespace | quote }}
  labels:
    {{- include "otpgw.componentLabels" $names | nindent 4 }}
  {{- with include "otpgw.annotations" (dict "ctx" $ctx) }}
  annotations:
    {{- . | nindent 4 }}
  {{- end }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- toYaml (.strategy | default $values.updateStrategy) | nindent 4 }}
  selector:
    matchLabels:
      {{- include "otpgw.componentSelectorLabels" $names | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "otpgw.componentLabels" $names | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "otpgw.checksumAnnotations" $ctx | nindent 8 }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "otpgw.serviceAccountName" $ctx }}
      automountServiceAccountToken: {{ $ctx.Values.serviceAccount.automountServiceAccountToken }}
      {{- with $ctx.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- if .podSecurityContext }}
        {{- toYaml .podSecurityContext | nindent 8 }}
        {{- else }}
        {{- include "otpgw.podSecurityContext" (dict "ctx" $ctx "values" $values) | nindent 8 }}
        {{- end }}
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- with $values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $values.affinity }}
      affinity:
        {{- toYaml $values.affinity | nindent 8 }}
      {{- else if .spread }}
      affinity:
        {{- include "otpgw.defaultAffinity" $names | nindent 8 }}
      {{- end }}
      {{- with $values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "otpgw.image" $ctx }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          args:
            {{- toYaml (concat .args ($values.extraArgs | default list)) | nindent 12 }}
          env:
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- include "otpgw.env" $ctx | nindent 12 }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          envFrom:
            {{- include "otpgw.envFrom" $ctx | nindent 12 }}
          ports:
            - name: {{ .port.name }}
              containerPort: {{ .port.containerPort }}
              protocol: TCP
            {{- with .probePort }}
            - name: {{ .name }}
              containerPort: {{ .containerPort }}
              protocol: TCP
            {{- end }}
          {{- include "otpgw.probes" (dict "values" $values "port" (.probePort | default .port).name) | trim | nindent 10 }}
          {{- with include "otpgw.lifecycle" $values }}
          lifecycle:
            {{- . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml (.resources | default $values.resources) | nindent 12 }}
          securityContext:
            {{- include "otpgw.containerSecurityContext" (dict "ctx" $ctx "values" $values) | nindent 12 }}
          volumeMounts:
            {{- include "otpgw.volumeMounts" $ctx | nindent 12 }}
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "otpgw.volumes" $ctx | nindent 8 }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}
