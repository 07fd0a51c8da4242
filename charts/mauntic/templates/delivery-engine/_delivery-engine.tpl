{{/*
The delivery engine: a StatefulSet, so each pod keeps its name (ENGINE_OWNER, in message leases
and journal files) and its own volume for the hand-over journal across restarts.
*/}}
{{- define "mauntic.component.delivery-engine" -}}
statefulSet: true
needs: [db, kafka, redis, deliveryKeys]
defaultEnv:
  {{- with include "mauntic.postfixInstances" . }}
  DELIVERY_POSTFIX_INSTANCES: {{ . | quote }}
  {{- end }}
wiredEnv:
  - name: ENGINE_OWNER
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: ENGINE_JOURNAL_DIR
    value: {{ (index .Values.components "delivery-engine").persistence.mountPath }}
{{- end }}
