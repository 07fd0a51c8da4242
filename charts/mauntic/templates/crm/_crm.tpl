{{/* The crm subgraph: reached only through the gateway. */}}
{{- define "mauntic.component.crm" -}}
needs: [db, kafka, redis, secrets]
ingressFrom: [gateway]
{{- end }}
