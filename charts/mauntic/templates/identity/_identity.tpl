{{/* The identity subgraph: reached only through the gateway. */}}
{{- define "mauntic.component.identity" -}}
needs: [db, kafka, redis, secrets]
ingressFrom: [gateway]
{{- end }}
