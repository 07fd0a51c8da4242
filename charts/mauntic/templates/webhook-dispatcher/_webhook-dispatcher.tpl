{{/* The webhook dispatcher: records and sends outbound webhooks; reached by nothing but probes and metrics. */}}
{{- define "mauntic.component.webhook-dispatcher" -}}
needs: [db, kafka, integrationsKeys]
{{- end }}
