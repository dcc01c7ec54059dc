{{- /* Contradictory values stop the render with a sentence naming the value. */ -}}

{{/*
Refuse contradictory values with a sentence naming the value and what would be valid.
Included by every workload template, so it runs whatever is rendered.
*/}}
{{- define "otpgw.validate" -}}
{{- $v := .Values -}}
{{- $config := $v.config | default dict -}}
{{- $unauthenticated := or (index $config "allow_unauthenticated") (index (index $config "api" | default dict) "allow_unauthenticated") -}}
{{- if not $v.existingSecret -}}
{{- if not $v.secrets.secretKeys -}}
{{- fail "otpgw: set secrets.secretKeys (HMAC keys, newest first, 16+ characters each) or existingSecret (a Secret holding OTPGW_SECRET_KEYS); otpgw refuses to start without them" -}}
{{- end -}}
{{- if and (not $v.secrets.apiKeys) (not $unauthenticated) -}}
{{- fail "otpgw: set secrets.apiKeys (caller name: key) or existingSecret (a Secret holding OTPGW_API_KEYS); only behind a trusted gateway set config.allow_unauthenticated=true instead" -}}
{{- end -}}
{{- end -}}
{{- if and $v.redis.sentinel.enabled $v.redis.cluster.enabled -}}
{{- fail "otpgw: redis.sentinel.enabled and redis.cluster.enabled cannot both be true; pick the one your Redis runs" -}}
{{- end -}}
{{- if and $v.redis.sentinel.enabled (not $v.redis.sentinel.hosts) -}}
{{- fail "otpgw: redis.sentinel.enabled needs redis.sentinel.hosts (host:port of each Sentinel)" -}}
{{- end -}}
{{- $managed := dict "secret_keys" "secrets.secretKeys" "api_keys" "secrets.apiKeys" "redis_password" "secrets.redisPassword" "redis_url" "redis.url" "redis_username" "redis.username" "redis_timeout" "redis.timeout" "redis_sentinels" "redis.sentinel.hosts" "redis_sentinel_master" "redis.sentinel.masterName" "redis_cluster" "redis.cluster.enabled" "dev" "`otpgw dev` outside Kubernetes (dev mode keeps codes in memory)" "secrets" "secrets.* or existingSecret (secrets never belong in the ConfigMap)" "redis" "redis.* and secrets.redisPassword" -}}
{{- range $key := keys $managed | sortAlpha }}
{{- if hasKey $config $key -}}
{{- fail (printf "otpgw: config.%s is managed by the chart; use %s instead" $key (get $managed $key)) -}}
{{- end -}}
{{- end -}}
{{- if hasKey (index $config "api" | default dict) "keys" -}}
{{- fail "otpgw: config.api.keys is managed by the chart; use secrets.apiKeys or existingSecret instead (API keys never belong in the ConfigMap)" -}}
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
{{- end -}}
{{- include "otpgw.validateTransports" . -}}
{{- include "otpgw.validateShutdown" . -}}
{{- if and $v.ingress.enabled $v.networkPolicy.enabled (not $v.networkPolicy.allowExternal) (not $v.networkPolicy.ingressPeers) -}}
{{- fail "otpgw: ingress.enabled with networkPolicy.allowExternal=false needs networkPolicy.ingressPeers to admit the Ingress controller (e.g. a namespaceSelector on kubernetes.io/metadata.name: ingress-nginx); otherwise neither callers nor carrier callbacks (/callbacks) reach the API" -}}
{{- end -}}
{{- end -}}

{{/*
config.transports, config.routes and the modem worker must agree, so that no message is
routed where nothing sends it and the modem worker never starts without its modem:
  - every transport has a type; config.transport, when set, names one of them;
  - every route names configured transports (without config.transports the app's one
    transport is config.transport, default console);
  - a transport of type modem runs only in the modem worker: modemWorker.enabled and
    modemWorker.transport name it, and its port is the literal device path to mount.
*/}}
{{- define "otpgw.validateTransports" -}}
{{- $v := .Values -}}
{{- $config := $v.config | default dict -}}
{{- $transports := index $config "transports" | default dict -}}
{{- $default := index $config "transport" | default "" -}}
{{- $modems := list -}}
{{- range $name := keys $transports | sortAlpha -}}
{{- $t := get $transports $name -}}
{{- if not (and (kindIs "map" $t) (index $t "type")) -}}
{{- fail (printf "otpgw: config.transports.%s needs a type (twilio, vonage, kannel, http, modem, console or fake)" $name) -}}
{{- end -}}
{{- if eq (toString $t.type) "modem" -}}
{{- $modems = append $modems $name -}}
{{- end -}}
{{- end -}}
{{- $known := keys $transports | sortAlpha -}}
{{- if and $transports $default (not (has $default $known)) -}}
{{- fail (printf "otpgw: config.transport is %q, which is not in config.transports (configured: %s); with config.transports set it may only name one of them (the route when config.routes is empty), or leave it empty" $default (join ", " $known)) -}}
{{- end -}}
{{- if not $transports -}}
{{- $known = list ($default | default "console") -}}
{{- end -}}
{{- range $i, $route := index $config "routes" | default list -}}
{{- range $name := $route.transports | default list -}}
{{- if not (has (toString $name) $known) -}}
{{- fail (printf "otpgw: config.routes[%d].transports names %q, which is not configured (configured: %s); add config.transports.%s (a table with its type) or remove it from the route" $i $name (join ", " $known) $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $mw := $v.modemWorker -}}
{{- if $mw.enabled -}}
{{- if not $modems -}}
{{- fail "otpgw: modemWorker.enabled is true but config.transports has no transport of type \"modem\", so the modem worker would have nothing to run; add one (its port is the modem's device path on the node) and name it in modemWorker.transport, or set modemWorker.enabled=false" -}}
{{- end -}}
{{- if not (has $mw.transport $modems) -}}
{{- fail (printf "otpgw: modemWorker.transport is %q but must name the modem transport it runs (type \"modem\" in config.transports: %s)" ($mw.transport | default "") (join ", " $modems)) -}}
{{- end -}}
{{- end -}}
{{- range $name := $modems -}}
{{- if not (and $mw.enabled (eq $mw.transport $name)) -}}
{{- fail (printf "otpgw: config.transports.%s is a modem (type \"modem\"), but no modem worker runs it, so messages routed to it would never be sent; set modemWorker.enabled=true and modemWorker.transport=%s, with modemWorker.nodeSelector picking the node it is plugged into (the chart runs one modem worker; the delivery worker never opens a device)" $name $name) -}}
{{- end -}}
{{- $port := index (get $transports $name) "port" -}}
{{- if not (and (kindIs "string" $port) (hasPrefix "/dev/" $port)) -}}
{{- fail (printf "otpgw: config.transports.%s.port must be the modem's device path on the node, written out (e.g. /dev/serial/by-id/usb-Quectel_EC25-if02-port0): the chart mounts that path into the modem worker" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Graceful stops. On deletion Kubernetes runs the preStop sleep (while the endpoint is
removed from Services and Ingress controllers), then sends SIGTERM; gunicorn then lets
requests finish for its graceful timeout. terminationGracePeriodSeconds counts from the
start of preStop, so it must exceed the sum, or the kubelet kills requests in flight.
*/}}
{{- define "otpgw.validateShutdown" -}}
{{- $api := .Values.api -}}
{{- $need := add $api.preStopSleepSeconds $api.gunicorn.gracefulTimeout -}}
{{- if le (int $api.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "otpgw: api.terminationGracePeriodSeconds (%v) must be greater than api.preStopSleepSeconds (%v) + api.gunicorn.gracefulTimeout (%v) = %v, or the kubelet kills requests still in flight; raise it or lower the others" $api.terminationGracePeriodSeconds $api.preStopSleepSeconds $api.gunicorn.gracefulTimeout $need) -}}
{{- end -}}
{{- range $component := list "worker" "modemWorker" -}}
{{- $w := index $.Values $component -}}
{{- if and $w.enabled (le (int $w.terminationGracePeriodSeconds) (int $w.preStopSleepSeconds)) -}}
{{- fail (printf "otpgw: %s.terminationGracePeriodSeconds (%v) must be greater than %s.preStopSleepSeconds (%v), or the worker is killed before it can finish the message in hand" $component $w.terminationGracePeriodSeconds $component $w.preStopSleepSeconds) -}}
{{- end -}}
{{- end -}}
{{- end -}}
