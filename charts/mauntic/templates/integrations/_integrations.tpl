{{/* The integrations subgraph: GraphQL and the Segment-compatible /v1 endpoint, both reached through the gateway. */}}
{{- define "mauntic.component.integrations" -}}
needs: [db, kafka, redis, secrets, integrationsKeys]
ingressFrom: [gateway]
{{- end }}
