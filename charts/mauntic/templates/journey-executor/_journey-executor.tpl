{{/* The journey executor: leases runs under its pod name; a replaced pod's leases expire. */}}
{{- define "mauntic.component.journey-executor" -}}
needs: [db, kafka]
wiredEnv:
  - name: EXECUTOR_OWNER
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
{{- end }}
