{{/* The journey subgraph: reached only through the gateway. */}}
{{- define "mauntic.component.journey" -}}
needs: [db, kafka, redis, secrets]
ingressFrom: [gateway]
{{- end }}
