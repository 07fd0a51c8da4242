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
  {{- if .Values.mail.sidecar.enabled }}
  - name: maillog
    emptyDir: {}
  {{- end }}
volumeMounts:
  - name: run
    mountPath: /run
  - name: state
    mountPath: /var/lib/postfix
  {{- if .Values.mail.sidecar.enabled }}
  - name: maillog
    mountPath: /var/log/postfix
  {{- end }}
{{- if .Values.mail.sidecar.enabled }}
{{- $sc := .Values.mail.sidecar }}
# The sidecar (mail-stack/sidecar) reads the queue volume and the mail log, and signals the
# master to reload: it shares the pod's process namespace, and runs as root with only the
# capabilities to read Postfix's private queue folders and to signal its master.
shareProcessNamespace: true
sidecars:
  - name: sidecar
    image: {{ printf "%s:%s" ($sc.image.repository | default (printf "%s/mail-sidecar" .Values.image.registry)) ($sc.image.tag | default .Values.image.tag | default .Chart.AppVersion) | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    ports:
      - name: metrics
        containerPort: {{ $sc.port }}
        protocol: TCP
    env:
      - name: MAILSTACK_QUEUE_DIR
        value: /var/spool/postfix
      - name: MAILSTACK_LOG
        value: /var/log/postfix/maillog
      - name: SIDECAR_HOST
        value: 0.0.0.0
      - name: SIDECAR_PORT
        value: {{ $sc.port | quote }}
      - name: SIDECAR_ECHO_LOG
        value: "true"
      - name: SIDECAR_LOG_MAX_BYTES
        value: {{ $sc.logMaxBytes | quote }}
      {{- with $sc.extraEnv }}{{ toYaml . | nindent 6 }}{{ end }}
    readinessProbe:
      httpGet: { path: /healthz, port: metrics }
      periodSeconds: 10
    resources: {{- toYaml $sc.resources | nindent 6 }}
    securityContext:
      runAsUser: 0
      runAsNonRoot: false
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: [ALL]
        add: [DAC_READ_SEARCH, KILL]
    volumeMounts:
      - name: data
        mountPath: /var/spool/postfix
        readOnly: true
      - name: maillog
        mountPath: /var/log/postfix
{{- end }}
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
  - name: POSTFIX_LMTP
    value: {{ include "mauntic.mailLmtp" . | quote }}
  - name: POSTFIX_BOUNCE_DOMAINS
    value: {{ .Values.mail.bounceDomains | quote }}
  {{- if .Values.mail.sidecar.enabled }}
  # To a file the sidecar reads (and writes to its own stdout), not Postfix's stdout.
  - name: POSTFIX_MAILLOG
    value: /var/log/postfix/maillog
  {{- end }}
{{- end }}

{{- define "mauntic.postfixHostnames" -}}
{{- $names := list }}
{{- range .Values.mail.sendingIps }}{{ $names = append $names (.hostname | default $.Values.mail.hostname) }}{{ end }}
{{- join "," $names }}
{{- end }}

{{- define "mauntic.postfixReplicas" -}}
{{- with .Values.mail.sendingIps }}{{ len . }}{{ else }}{{ .Values.components.postfix.replicas }}{{ end }}
{{- end }}

{{/* The Service of sending IP number .index: (dict "root" $ "index" 0). */}}
{{- define "mauntic.postfixIpService" -}}
{{- printf "%s-ip-%d" (include "mauntic.componentName" (dict "root" .root "name" "postfix")) (int .index) }}
{{- end }}
