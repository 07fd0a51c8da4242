{{/*
The delivery subgraph: reached through the gateway (GraphQL, tracking and webhook routes), and by
the chart's Postfix pods on its inbound LMTP port (bounces and complaints) when it runs one.
*/}}
{{- define "mauntic.component.delivery" -}}
needs: [db, kafka, redis, secrets, deliveryKeys]
ingressFrom: [gateway]
defaultEnv:
  {{- with include "mauntic.postfixInstances" . }}
  DELIVERY_POSTFIX_INSTANCES: {{ . | quote }}
  {{- end }}
{{- with include "mauntic.deliveryLmtpPort" . }}
extraPorts:
  - { name: lmtp, port: {{ . }}, from: [postfix] }
{{- end }}
{{- end }}

{{/*
DELIVERY_POSTFIX_INSTANCES from mail.sendingIps when the chart runs Postfix: each IP's own Service
(sending-ip-services.yaml), port 25. Empty otherwise.
*/}}
{{- define "mauntic.postfixInstances" -}}
{{- if .Values.components.postfix.enabled }}
{{- $entries := list }}
{{- range $i, $entry := .Values.mail.sendingIps }}
{{- $entries = append $entries (printf "%s=%s:25" $entry.ip (include "mauntic.postfixIpService" (dict "root" $ "index" $i))) }}
{{- end }}
{{- join "," $entries }}
{{- end }}
{{- end }}

{{/* The port of delivery's inbound LMTP endpoint when the chart's delivery runs one (port set, LMTP on); empty otherwise. */}}
{{- define "mauntic.deliveryLmtpPort" -}}
{{- $c := .Values.components.delivery }}
{{- $env := merge (dict) $c.env .Values.env }}
{{- $port := toString (index $env "DELIVERY_INBOUND_SMTP_PORT" | default "0") }}
{{- if and $c.enabled (ne $port "0") (eq (toString (index $env "DELIVERY_INBOUND_LMTP")) "true") }}{{ $port }}{{ end }}
{{- end }}

{{/* mail.lmtp, else delivery's Service when it runs the LMTP endpoint. */}}
{{- define "mauntic.mailLmtp" -}}
{{- if .Values.mail.lmtp }}{{ .Values.mail.lmtp }}
{{- else }}{{ with include "mauntic.deliveryLmtpPort" . }}{{ printf "%s:%s" (include "mauntic.componentName" (dict "root" $ "name" "delivery")) . }}{{ end }}
{{- end }}
{{- end }}
