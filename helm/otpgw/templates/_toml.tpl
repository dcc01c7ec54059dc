{{- /* otpgw.toml: a small TOML writer and the settings the chart renders with it. */ -}}

{{/*
TOML rendering for otpgw.toml. "otpgw.toml.table" writes a map as a TOML table: its plain
keys first (strings, numbers, booleans, arrays, inline tables), then each map value as a
[sub.table] and each non-empty list of maps as an [[array.of.tables]]. Keys are sorted
(lists keep their order), so the text and its checksum are stable. A null value in a
table is left out (the app's default applies); a value TOML cannot hold (null inside a
list, NaN or infinity, a control character in a string) makes the chart fail with the
value's name. "where" is the value's name in messages, e.g. config.transports.tw.from.
*/}}

{{/* A TOML basic string. Call with (dict "value" "text" "where" "config.brand"). */}}
{{- define "otpgw.toml.string" -}}
{{- if regexMatch `[\x00-\x07\x0b\x0e-\x1f\x7f]` .value -}}
{{- fail (printf "otpgw: %s holds a control character, which otpgw.toml cannot carry; remove it" .where) -}}
{{- end -}}
{{- $s := .value | replace "\\" "\\\\" | replace "\"" "\\\"" -}}
{{- $s = $s | replace "\b" "\\b" | replace "\t" "\\t" | replace "\n" "\\n" | replace "\f" "\\f" | replace "\r" "\\r" -}}
"{{ $s }}"
{{- end -}}

{{/* A TOML key: bare when it is only A-Za-z0-9_-, else quoted. Call with (dict "key" "GB" "where" "..."). */}}
{{- define "otpgw.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" .key -}}
{{- .key -}}
{{- else -}}
{{- include "otpgw.toml.string" (dict "value" .key "where" (printf "the key %q of %s" .key .where)) -}}
{{- end -}}
{{- end -}}

{{/* "true" when a value is a non-empty list of maps (an array of tables), else empty. */}}
{{- define "otpgw.toml.isTableArray" -}}
{{- if and (kindIs "slice" .) . -}}
{{- $all := true -}}
{{- range . }}{{ if not (kindIs "map" .) }}{{ $all = false }}{{ end }}{{ end -}}
{{- if $all }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* One value written inline. Call with (dict "value" $v "where" "config.code_ttl"). */}}
{{- define "otpgw.toml.value" -}}
{{- $v := .value -}}
{{- if kindIs "string" $v -}}
{{- include "otpgw.toml.string" . -}}
{{- else if kindIs "bool" $v -}}
{{- ternary "true" "false" $v -}}
{{- else if or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v) (kindIs "float32" $v) (kindIs "int32" $v) (kindIs "uint64" $v) -}}
{{- if regexMatch "Inf|NaN" (toString $v) -}}
{{- fail (printf "otpgw: %s is %v, which TOML cannot hold; use a finite number" .where $v) -}}
{{- end -}}
{{- /* encoding/json writes integers without exponent up to 1e21 and floats in a form TOML reads. */ -}}
{{- toJson $v -}}
{{- else if kindIs "slice" $v -}}
[{{ range $i, $item := $v }}{{ if $i }}, {{ end }}{{ include "otpgw.toml.value" (dict "value" $item "where" (printf "%s[%d]" $.where $i)) }}{{ end }}]
{{- else if kindIs "map" $v -}}
{{- $present := list -}}
{{- range $k := keys $v | sortAlpha }}{{ if not (kindIs "invalid" (get $v $k)) }}{{ $present = append $present $k }}{{ end }}{{ end -}}
{ {{- range $i, $k := $present }}{{ if $i }},{{ end }} {{ include "otpgw.toml.key" (dict "key" $k "where" $.where) }} = {{ include "otpgw.toml.value" (dict "value" (get $v $k) "where" (printf "%s.%s" $.where $k)) }}{{ end }} }
{{- else if kindIs "invalid" $v -}}
{{- fail (printf "otpgw: %s is null, which TOML cannot hold; remove it or give a value" .where) -}}
{{- else -}}
{{- fail (printf "otpgw: %s is a %s, which TOML cannot hold; use a string, number, boolean, list or map" .where (kindOf $v)) -}}
{{- end -}}
{{- end -}}

{{/*
A map as a TOML table (without its own header). Call with (dict "table" $map
"header" (list "transports" "tw") "where" "config.transports.tw"); header is the list of
rendered keys leading to this table, empty at the root.
*/}}
{{- define "otpgw.toml.table" -}}
{{- $table := .table -}}
{{- $maps := list -}}
{{- $arrays := list -}}
{{- /* Sorted, but a transport's type first: it says how to read the rest. */ -}}
{{- $keys := keys $table | sortAlpha -}}
{{- if has "type" $keys }}{{ $keys = prepend (without $keys "type") "type" }}{{ end -}}
{{- range $key := $keys }}
{{- $value := get $table $key }}
{{- if kindIs "map" $value }}
{{- $maps = append $maps $key }}
{{- else if include "otpgw.toml.isTableArray" $value }}
{{- $arrays = append $arrays $key }}
{{- else if not (kindIs "invalid" $value) }}
{{ include "otpgw.toml.key" (dict "key" $key "where" $.where) }} = {{ include "otpgw.toml.value" (dict "value" $value "where" (printf "%s.%s" $.where $key)) }}
{{- end }}
{{- end }}
{{- range $key := $maps }}
{{- $value := get $table $key }}
{{- $header := append $.header (include "otpgw.toml.key" (dict "key" $key "where" $.where)) }}
{{- $plain := false }}
{{- range $v := values $value }}{{ if not (or (kindIs "map" $v) (include "otpgw.toml.isTableArray" $v) (kindIs "invalid" $v)) }}{{ $plain = true }}{{ end }}{{ end }}
{{- /* A table holding only tables needs no header of its own: [a.b] defines a. */}}
{{- if or $plain (not $value) }}

[{{ join "." $header }}]
{{- end }}
{{- include "otpgw.toml.table" (dict "table" $value "header" $header "where" (printf "%s.%s" $.where $key)) }}
{{- end }}
{{- range $key := $arrays }}
{{- $header := append $.header (include "otpgw.toml.key" (dict "key" $key "where" $.where)) }}
{{- range $i, $item := get $table $key }}

[[{{ join "." $header }}]]
{{- include "otpgw.toml.table" (dict "table" $item "header" $header "where" (printf "%s.%s[%d]" $.where $key $i)) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Contents of otpgw.toml: the Redis values and config, as otpgw's own settings. At the top
level an empty string means "keep the app's default" and is left out, as are empty
config.transports and config.routes.
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
{{- range $key, $value := .Values.config | default dict -}}
{{- if not (or (and (kindIs "string" $value) (eq $value "")) (and (has $key (list "transports" "routes")) (empty $value))) -}}
{{- $_ := set $settings $key $value -}}
{{- end -}}
{{- end -}}
# otpgw settings rendered by the Helm chart {{ include "otpgw.chart" . }}; secrets come from the environment ("${VAR}").
{{- include "otpgw.toml.table" (dict "table" $settings "header" (list) "where" "config") }}
{{ end -}}
