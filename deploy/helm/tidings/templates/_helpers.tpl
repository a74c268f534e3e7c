{{/* Names: <release>-tidings unless overridden; each component adds -gateway / -dispatcher. */}}
{{- define "tidings.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tidings.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tidings.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tidings.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "gateway"). */}}
{{- define "tidings.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tidings.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tidings.componentLabels" -}}
{{ include "tidings.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tidings.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tidings.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tidings.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding credentials: the operator's, or the chart's own (development). */}}
{{- define "tidings.secretName" -}}
{{- default (printf "%s-secrets" (include "tidings.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Rolls one component's pods when a credential it reads changes: with the chart's own Secret, only
     the keys that component reads (a Kafka password never rolls the gateways and their sockets); with
     an existingSecret the chart cannot see the content, so the operator's version rolls both.
     Include with (dict "root" $ "component" "gateway"). */}}
{{- define "tidings.secretChecksum" -}}
{{- $values := .root.Values.secrets -}}
{{- if $values.existingSecret -}}
{{- printf "%s/%s" $values.existingSecret $values.existingSecretVersion | sha256sum -}}
{{- else -}}
{{- $read := ternary (list "jwtSecret" "jwtPublicKey" "redisPassword" "serviceTokens") (list "redisPassword" "kafkaSaslUsername" "kafkaSaslPassword") (eq .component "gateway") -}}
{{- $picked := dict -}}
{{- range $read }}{{ $_ := set $picked . (get $values.values .) }}{{ end -}}
{{- dict "secret" (include "tidings.secretName" .root) "values" $picked | toJson | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* Gateway shutdown arithmetic: computed once here so that the values cannot disagree. */}}
{{- define "tidings.gateway.drainMs" -}}
{{- mul .Values.gateway.shutdown.drainSeconds 1000 -}}
{{- end -}}
{{- define "tidings.gateway.shutdownGraceMs" -}}
{{- mul (add .Values.gateway.shutdown.drainSeconds .Values.gateway.shutdown.closeSeconds) 1000 -}}
{{- end -}}
{{- define "tidings.gateway.terminationGracePeriodSeconds" -}}
{{- $s := .Values.gateway.shutdown -}}
{{- add $s.preStopSeconds $s.drainSeconds $s.closeSeconds $s.marginSeconds -}}
{{- end -}}

{{/* Redis settings, the state TTL and the log level: identical for both services (environment entries). */}}
{{- define "tidings.redisEnv" -}}
{{- if .Values.redis.url }}
REDIS_URL: {{ .Values.redis.url | quote }}
{{- else }}
REDIS_CLUSTER_NODES: {{ join "," .Values.redis.clusterNodes | quote }}
{{- end }}
{{- with .Values.redis.username }}
REDIS_USERNAME: {{ . | quote }}
{{- end }}
{{- if .Values.redis.auth }}
REDIS_PASSWORD_FILE: "/etc/tidings/secrets/redis-password"
{{- end }}
{{- if .Values.redis.tls.enabled }}
REDIS_TLS: "true"
{{- if .Values.redis.tls.secretName }}
REDIS_TLS_CA_FILE: "/etc/tidings/redis-tls/ca.crt"
{{- end }}
{{- if .Values.redis.tls.clientCertificate }}
REDIS_TLS_CERT_FILE: "/etc/tidings/redis-tls/tls.crt"
REDIS_TLS_KEY_FILE: "/etc/tidings/redis-tls/tls.key"
{{- end }}
{{- with .Values.redis.tls.serverName }}
REDIS_TLS_SERVERNAME: {{ . | quote }}
{{- end }}
{{- end }}
REDIS_TIMEOUT_MS: {{ .Values.redis.timeoutMs | quote }}
STATE_TTL_SECONDS: {{ .Values.retention.stateTtlSeconds | quote }}
LOG_LEVEL: {{ .Values.logLevel | quote }}
{{- end -}}

{{/* The inbox's limits: only the writer (the dispatcher) reads them; STATE_TTL_SECONDS, which both
     services read, is in tidings.redisEnv. */}}
{{- define "tidings.inboxEnv" -}}
INBOX_TTL_SECONDS: {{ .Values.retention.inboxTtlSeconds | quote }}
INBOX_CAP: {{ .Values.retention.inboxCap | quote }}
DEDUPE_WINDOW_SECONDS: {{ .Values.retention.dedupeWindowSeconds | quote }}
{{- end -}}

{{/* Volumes both services mount: the secret files and the TLS material, plus a writable /tmp. */}}
{{- define "tidings.volumes" -}}
- name: tmp
  emptyDir: { medium: Memory, sizeLimit: 16Mi }
- name: secrets
  secret:
    secretName: {{ include "tidings.secretName" .root }}
    defaultMode: 288 # 0440: owner and fsGroup read
    optional: true
{{- if and .root.Values.redis.tls.enabled .root.Values.redis.tls.secretName }}
- name: redis-tls
  secret:
    secretName: {{ .root.Values.redis.tls.secretName }}
    defaultMode: 288 # 0440: owner and fsGroup read
{{- end }}
{{- if and (eq .component "dispatcher") .root.Values.kafka.tls.enabled .root.Values.kafka.tls.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ .root.Values.kafka.tls.secretName }}
    defaultMode: 288 # 0440: owner and fsGroup read
{{- end }}
{{- end -}}

{{- define "tidings.volumeMounts" -}}
- { name: tmp, mountPath: /tmp }
- { name: secrets, mountPath: /etc/tidings/secrets, readOnly: true }
{{- if and .root.Values.redis.tls.enabled .root.Values.redis.tls.secretName }}
- { name: redis-tls, mountPath: /etc/tidings/redis-tls, readOnly: true }
{{- end }}
{{- if and (eq .component "dispatcher") .root.Values.kafka.tls.enabled .root.Values.kafka.tls.secretName }}
- { name: kafka-tls, mountPath: /etc/tidings/kafka-tls, readOnly: true }
{{- end }}
{{- end -}}

{{/* topologySpreadConstraints with the component's labelSelector filled in. */}}
{{- define "tidings.topologySpread" -}}
{{- $selector := include "tidings.selectorLabels" . | fromYaml -}}
{{- range .constraints }}
- {{ toYaml (merge (dict "labelSelector" (dict "matchLabels" $selector)) .) | nindent 2 | trim }}
{{- end }}
{{- end -}}
