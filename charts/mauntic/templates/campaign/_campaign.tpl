{{/* The campaign subgraph: reached only through the gateway. */}}
{{- define "mauntic.component.campaign" -}}
needs: [db, kafka, redis, secrets]
ingressFrom: [gateway]
{{- end }}
