{{/* Every variable the chart sets itself (in a ConfigMap, from the Secret or from the pod), with what to
     do instead. gateway.env / dispatcher.env may not repeat one: a second key in the ConfigMap would
     make the two disagree, or put a secret where it does not belong. The chart tests render every
     option and check that each variable the templates produce is listed here. */}}
{{- define "tidings.chartEnv" -}}
REDIS_URL: "set redis.url instead"
REDIS_CLUSTER_NODES: "set redis.clusterNodes instead"
REDIS_USERNAME: "set redis.username instead"
REDIS_PASSWORD: "a secret never goes into a ConfigMap: put it in the Secret (key redis-password) and set redis.auth: true"
REDIS_PASSWORD_FILE: "a secret never goes into a ConfigMap: put it in the Secret (key redis-password) and set redis.auth: true"
REDIS_TLS: "set redis.tls.enabled instead"
REDIS_TLS_CA_FILE: "set redis.tls.secretName (a Secret with ca.crt) instead"
REDIS_TLS_CERT_FILE: "set redis.tls.clientCertificate and redis.tls.secretName (a Secret with tls.crt, tls.key) instead"
REDIS_TLS_KEY_FILE: "set redis.tls.clientCertificate and redis.tls.secretName (a Secret with tls.crt, tls.key) instead"
REDIS_TLS_SERVERNAME: "set redis.tls.serverName instead"
REDIS_TIMEOUT_MS: "set redis.timeoutMs instead"
STATE_TTL_SECONDS: "set retention.stateTtlSeconds instead"
INBOX_TTL_SECONDS: "set retention.inboxTtlSeconds instead"
INBOX_CAP: "set retention.inboxCap instead"
DEDUPE_WINDOW_SECONDS: "set retention.dedupeWindowSeconds instead"
LOG_LEVEL: "set logLevel instead"
HOST: "fixed by the chart (it listens on 0.0.0.0)"
PORT: "set gateway.ports.http instead"
ADMIN_PORT: "set gateway.ports.admin instead"
POD_NAME: "fixed by the chart (the pod’s own name)"
JWT_ALGORITHMS: "set gateway.auth.algorithms instead"
JWT_ISSUER: "set gateway.auth.issuer instead"
JWT_AUDIENCE: "set gateway.auth.audience instead"
JWT_JWKS_URL: "set gateway.auth.jwksUrl instead"
ALLOWED_ORIGINS: "set gateway.auth.allowedOrigins instead"
JWT_SECRET: "a secret never goes into a ConfigMap: put it in the Secret (key jwt-secret)"
JWT_PUBLIC_KEY: "a secret never goes into a ConfigMap: put it in the Secret (key jwt-public-key)"
JWT_PUBLIC_KEY_FILE: "a secret never goes into a ConfigMap: put it in the Secret (key jwt-public-key)"
SERVICE_TOKENS: "a secret never goes into a ConfigMap: put it in the Secret (key service-tokens)"
MAX_CONNECTIONS: "set gateway.maxConnections instead"
DRAIN_MS: "set gateway.shutdown.drainSeconds instead"
SHUTDOWN_GRACE_MS: "set gateway.shutdown (drainSeconds + closeSeconds) or dispatcher.shutdown.graceSeconds instead"
KAFKA_BROKERS: "set kafka.brokers instead"
KAFKA_TLS: "set kafka.tls.enabled instead"
KAFKA_TLS_CA_FILE: "set kafka.tls.secretName (a Secret with ca.crt) instead"
KAFKA_TLS_CERT_FILE: "set kafka.tls.clientCertificate and kafka.tls.secretName (a Secret with tls.crt, tls.key) instead"
KAFKA_TLS_KEY_FILE: "set kafka.tls.clientCertificate and kafka.tls.secretName (a Secret with tls.crt, tls.key) instead"
KAFKA_TLS_SERVERNAME: "set kafka.tls.serverName instead"
KAFKA_SASL_MECHANISM: "set kafka.sasl.mechanism instead"
KAFKA_SASL_USERNAME: "a secret never goes into a ConfigMap: put it in the Secret (key kafka-sasl-username) and set kafka.sasl.mechanism"
KAFKA_SASL_USERNAME_FILE: "a secret never goes into a ConfigMap: put it in the Secret (key kafka-sasl-username) and set kafka.sasl.mechanism"
KAFKA_SASL_PASSWORD: "a secret never goes into a ConfigMap: put it in the Secret (key kafka-sasl-password) and set kafka.sasl.mechanism"
KAFKA_SASL_PASSWORD_FILE: "a secret never goes into a ConfigMap: put it in the Secret (key kafka-sasl-password) and set kafka.sasl.mechanism"
TOPIC_PARTITIONS: "set dispatcher.topicPartitions instead"
HTTP_HOST: "fixed by the chart (it listens on 0.0.0.0)"
HTTP_PORT: "set dispatcher.ports.admin instead"
{{- end -}}

{{/* The rules values.schema.json cannot say well, for one component: include with
     (dict "root" $ "component" "gateway"); renders nothing, or fails naming the value to change. */}}
{{- define "tidings.validate" -}}
{{- $values := .root.Values -}}
{{- $owners := include "tidings.chartEnv" . | fromYaml -}}
{{- $refused := list -}}
{{- range $key, $_ := (get $values .component).env -}}
{{- if hasKey $owners $key -}}
{{- $refused = append $refused (printf "\n  %s.env.%s: %s" $.component $key (get $owners $key)) -}}
{{- end -}}
{{- end -}}
{{- if $refused -}}
{{- fail (printf "%s.env may not set a variable the chart owns (a second key in the ConfigMap, or a secret in it):%s" .component (join "" $refused)) -}}
{{- end -}}
{{- $tls := dict "redis" $values.redis.tls -}}
{{- if eq .component "dispatcher" -}}{{- $_ := set $tls "kafka" $values.kafka.tls -}}{{- end -}}
{{- range $service, $t := $tls -}}
{{- if not $t.enabled -}}
{{- range $key := list "clientCertificate" "secretName" "serverName" -}}
{{- if get $t $key -}}
{{- fail (printf "%s.tls.%s is set but %s.tls.enabled is false: TLS is off, so it would be ignored (set %s.tls.enabled: true, or remove it)" $service $key $service $service) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $t.enabled $t.clientCertificate (not $t.secretName) -}}
{{- fail (printf "%s.tls.clientCertificate needs %s.tls.secretName: the Secret whose tls.crt and tls.key the pods mount (without it the certificate files do not exist and the service exits at start)" $service $service) -}}
{{- end -}}
{{- end -}}
{{- end -}}
