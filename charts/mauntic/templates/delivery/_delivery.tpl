{{/* The delivery subgraph: reached through the gateway (GraphQL, tracking and webhook routes). */}}
{{- define "mauntic.component.delivery" -}}
needs: [db, kafka, redis, secrets, deliveryKeys]
ingressFrom: [gateway]
{{- end }}
