{{/* The campaign sender: hands campaign recipients to delivery and relays the campaign outbox. */}}
{{- define "mauntic.component.campaign-sender" -}}
needs: [db, kafka]
{{- end }}
