{{/*
Postfix: a StatefulSet whose pod N sends from mail.sendingIps[N] (behind its own Service) with a PVC
per pod for its queue. Its master runs as root (it binds port 25 and drops to the postfix user for
each service), so it keeps a pod security context of its own; the root filesystem stays read-only:
the configuration is written under /run, Postfix's state under /var/lib/postfix.
*/}}
{{- define "mauntic.component.postfix" -}}
statefulSet: true
portName: smtp
# Not a Node deployable: no /metrics of the platform's, no METRICS_PORT.
noMetrics: true
needs: []
ingressFrom: ["*"]
replicasFrom: mauntic.postfixReplicas
podSecurityContext:
  seccompProfile: {type: RuntimeDefault}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
    add: [CHOWN, DAC_OVERRIDE, FOWNER, NET_BIND_SERVICE, SETGID, SETUID, KILL]
volumes:
  - name: run
    emptyDir: {}
  - name: state
    emptyDir: {}
volumeMounts:
  - name: run
    mountPath: /run
  - name: state
    mountPath: /var/lib/postfix
wiredEnv:
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: POSTFIX_MYHOSTNAME
    value: {{ .Values.mail.hostname | quote }}
  {{- with .Values.mail.sendingIps }}
  # The entrypoint takes entry <pod ordinal> of this list.
  - name: POSTFIX_MYHOSTNAMES
    value: {{ include "mauntic.postfixHostnames" $ | quote }}
  {{- end }}
  - name: POSTFIX_MYNETWORKS
    value: {{ .Values.mail.mynetworks | quote }}
  - name: POSTFIX_RELAYHOST
    value: {{ .Values.mail.relayhost | quote }}
{{- end }}

{{- define "mauntic.postfixHostnames" -}}
{{- $names := list }}
{{- range .Values.mail.sendingIps }}{{ $names = append $names (.hostname | default $.Values.mail.hostname) }}{{ end }}
{{- join "," $names }}
{{- end }}

{{- define "mauntic.postfixReplicas" -}}
{{- with .Values.mail.sendingIps }}{{ len . }}{{ else }}{{ .Values.components.postfix.replicas }}{{ end }}
{{- end }}
