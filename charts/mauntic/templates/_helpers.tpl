{{/*
Names, labels and the shared builders every component folder calls. A component is described by
its folder's _<name>.tpl ("mauntic.component.<name>": what it needs) and its values block
(.Values.components.<name>, the same shape for all); each file of the folder is one include:
  {{ include "mauntic.workload" (dict "root" $ "name" "crm") }}
*/}}

{{- define "mauntic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mauntic.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>: the name of the component's objects. */}}
{{- define "mauntic.componentName" -}}
{{- printf "%s-%s" (include "mauntic.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mauntic.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mauntic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mauntic
{{- end }}

{{/* (dict "root" $ "name" "crm") */}}
{{- define "mauntic.componentLabels" -}}
{{ include "mauntic.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "mauntic.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mauntic.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The component's definition from its folder, with its values: (dict "root" $ "name" "crm"). */}}
{{- define "mauntic.def" -}}
{{- $def := fromYaml (include (printf "mauntic.component.%s" .name) .root) }}
{{- $_ := set $def "values" (index .root.Values.components .name) }}
{{- toYaml $def }}
{{- end }}

{{- define "mauntic.enabled" -}}
{{- if (index .root.Values.components .name).enabled }}true{{ end }}
{{- end }}

{{- define "mauntic.image" -}}
{{- $c := index .root.Values.components .name }}
{{- $repo := $c.image.repository | default (printf "%s/%s" .root.Values.image.registry .name) }}
{{- $tag := $c.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
image: {{ printf "%s:%s" $repo $tag | quote }}
imagePullPolicy: {{ $c.image.pullPolicy | default .root.Values.image.pullPolicy }}
{{- end }}

{{/* Secret names and keys, from existing Secrets or the chart's own. */}}
{{- define "mauntic.appSecretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "mauntic.fullname" .)) }}
{{- end }}
{{- define "mauntic.connectionsSecretName" -}}
{{- printf "%s-connections" (include "mauntic.fullname" .) }}
{{- end }}
{{- define "mauntic.databaseSecretRef" -}}
{{- if .Values.postgres.existingSecret -}}
name: {{ .Values.postgres.existingSecret }}
key: {{ .Values.postgres.existingSecretKey }}
{{- else -}}
name: {{ include "mauntic.connectionsSecretName" . }}
key: database-url
{{- end }}
{{- end }}
{{- define "mauntic.redisSecretRef" -}}
{{- if .Values.redis.existingSecret -}}
name: {{ .Values.redis.existingSecret }}
key: {{ .Values.redis.existingSecretKey }}
{{- else -}}
name: {{ include "mauntic.connectionsSecretName" . }}
key: redis-url
{{- end }}
{{- end }}

{{/* The in-cluster trial services' addresses, else the external ones. */}}
{{- define "mauntic.kafkaBrokers" -}}
{{- if .Values.trial.enabled }}{{ printf "%s-kafka:9092" (include "mauntic.fullname" .) }}{{ else }}{{ required "kafka.brokers is required (or trial.enabled)" .Values.kafka.brokers }}{{ end }}
{{- end }}

{{- define "mauntic.secretEnv" -}}
- name: {{ .var }}
  valueFrom:
    secretKeyRef:
      name: {{ include "mauntic.appSecretName" .root }}
      key: {{ .var }}
{{- end }}

{{/*
The container's environment: PORT, the shared env, what the definition's `needs` lists (db, kafka,
redis, secrets, deliveryKeys, integrationsKeys), the folder's own wired variables (`wiredEnv`), then the component's
env (over the definition's `defaultEnv`, which an empty value leaves in place) and extraEnv. Later entries of the same name win in Kubernetes, so the component's env comes last.
*/}}
{{- define "mauntic.env" -}}
{{- $root := .root }}
{{- $def := fromYaml (include "mauntic.def" .) }}
{{- $c := $def.values }}
{{- $needs := $def.needs | default list }}
{{- $vars := dict }}
{{- /* defaultEnv: values the chart derives (e.g. from mail.sendingIps), kept unless env sets a non-empty one. */}}
{{- range $k, $v := $def.defaultEnv }}{{ $_ := set $vars $k $v }}{{ end }}
{{- range $k, $v := $root.Values.env }}{{ if or (toString $v) (not (hasKey ($def.defaultEnv | default dict) $k)) }}{{ $_ := set $vars $k $v }}{{ end }}{{ end }}
{{- range $k, $v := $c.env }}{{ if or (toString $v) (not (hasKey ($def.defaultEnv | default dict) $k)) }}{{ $_ := set $vars $k $v }}{{ end }}{{ end -}}
- name: PORT
  value: {{ $c.port | quote }}
{{- if not $def.noMetrics }}
- name: METRICS_PORT
  value: {{ $root.Values.metrics.port | quote }}
{{- end }}
{{- if has "db" $needs }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- include "mauntic.databaseSecretRef" $root | nindent 6 }}
- name: DATA_DIR
  value: /tmp/data
- name: MIGRATE_ON_START
  value: {{ not $root.Values.migrations.enabled | quote }}
{{- end }}
{{- if has "kafka" $needs }}
- name: KAFKA_BROKERS
  value: {{ include "mauntic.kafkaBrokers" $root | quote }}
- name: KAFKA_CLIENT_ID
  value: {{ $root.Values.kafka.clientId | quote }}
- name: KAFKA_TOPIC_PREFIX
  value: {{ $root.Values.kafka.topicPrefix | quote }}
- name: KAFKA_TOPIC_PARTITIONS
  value: {{ $root.Values.kafka.topicPartitions | quote }}
{{- end }}
{{- if has "redis" $needs }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- include "mauntic.redisSecretRef" $root | nindent 6 }}
- name: REDIS_KEY_PREFIX
  value: {{ $root.Values.redis.keyPrefix | quote }}
{{- end }}
{{- if has "secrets" $needs }}
{{ include "mauntic.secretEnv" (dict "root" $root "var" "INTERNAL_CONTEXT_SECRET") }}
{{ include "mauntic.secretEnv" (dict "root" $root "var" "AUTH_JWT_SECRET") }}
{{- end }}
{{- if has "integrationsKeys" $needs }}
{{ include "mauntic.secretEnv" (dict "root" $root "var" "INTEGRATIONS_ENCRYPTION_KEY") }}
{{- end }}
{{- if has "deliveryKeys" $needs }}
{{ include "mauntic.secretEnv" (dict "root" $root "var" "DELIVERY_ENCRYPTION_KEY") }}
{{ include "mauntic.secretEnv" (dict "root" $root "var" "TRACKING_SECRET") }}
- name: PUBLIC_BASE_URL
  value: {{ $root.Values.publicUrl | quote }}
{{- end }}
{{- with $def.wiredEnv }}
{{ toYaml . }}
{{- end }}
{{- range $k := keys $vars | sortAlpha }}
- name: {{ $k }}
  value: {{ index $vars $k | toString | quote }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mauntic.probe" -}}
{{- $p := .probe -}}
{{- if $p.path }}
httpGet:
  path: {{ $p.path }}
  port: {{ .port }}
{{- else }}
tcpSocket:
  port: {{ .port }}
{{- end }}
initialDelaySeconds: {{ $p.initialDelaySeconds }}
periodSeconds: {{ $p.periodSeconds }}
timeoutSeconds: {{ $p.timeoutSeconds }}
failureThreshold: {{ $p.failureThreshold }}
{{- end }}

{{/* The pod template shared by Deployments and StatefulSets. */}}
{{- define "mauntic.podTemplate" -}}
{{- $root := .root }}
{{- $def := fromYaml (include "mauntic.def" .) }}
{{- $c := $def.values -}}
metadata:
  labels:
    {{- /* podLabels win, so one that overrides a selector label is a mismatch the server refuses. */}}
    {{- merge (dict) $c.podLabels (fromYaml (include "mauntic.componentLabels" .)) | toYaml | nindent 4 }}
  annotations:
    {{- with $def.podAnnotations }}{{ toYaml . | nindent 4 }}{{ end }}
    {{- with $c.podAnnotations }}{{ toYaml . | nindent 4 }}{{ end }}
spec:
  serviceAccountName: {{ include "mauntic.componentName" . }}
  automountServiceAccountToken: false
  {{- with $root.Values.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  securityContext:
    {{- toYaml ($def.podSecurityContext | default $root.Values.podSecurityContext) | nindent 4 }}
  terminationGracePeriodSeconds: {{ add 15 (div (int (index $root.Values.env "SHUTDOWN_TIMEOUT_MS" | default 15000)) 1000) }}
  {{- if $def.shareProcessNamespace }}
  shareProcessNamespace: true
  {{- end }}
  containers:
    - name: {{ .name }}
      {{- include "mauntic.image" . | nindent 6 }}
      {{- with $def.command }}
      command: {{ toJson . }}
      {{- end }}
      ports:
        - name: {{ $def.portName | default "http" }}
          containerPort: {{ $c.port }}
          protocol: TCP
        {{- if not $def.noMetrics }}
        - name: metrics
          containerPort: {{ $root.Values.metrics.port }}
          protocol: TCP
        {{- end }}
        {{- range $def.extraPorts }}
        - name: {{ .name }}
          containerPort: {{ .port }}
          protocol: TCP
        {{- end }}
      env:
        {{- include "mauntic.env" . | nindent 8 }}
      livenessProbe:
        {{- include "mauntic.probe" (dict "probe" $c.probes.liveness "port" ($def.portName | default "http")) | nindent 8 }}
      readinessProbe:
        {{- include "mauntic.probe" (dict "probe" $c.probes.readiness "port" ($def.portName | default "http")) | nindent 8 }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- toYaml ($def.securityContext | default $root.Values.securityContext) | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with $def.volumeMounts }}{{ toYaml . | nindent 8 }}{{ end }}
        {{- if and $def.statefulSet $c.persistence.enabled }}
        - name: data
          mountPath: {{ $c.persistence.mountPath }}
        {{- end }}
    {{- with $def.sidecars }}{{ toYaml . | nindent 4 }}{{ end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- with $def.volumes }}{{ toYaml . | nindent 4 }}{{ end }}
  {{- with $c.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.topologySpreadConstraints }}
  topologySpreadConstraints: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{- define "mauntic.replicas" -}}
{{- $c := index .root.Values.components .name }}
{{- $def := fromYaml (include "mauntic.def" .) }}
{{- if $def.replicasFrom }}{{ include $def.replicasFrom .root }}{{ else }}{{ $c.replicas }}{{ end }}
{{- end }}

{{/* The Deployment, or the StatefulSet when the definition says statefulSet: true. */}}
{{- define "mauntic.workload" -}}
{{- if include "mauntic.enabled" . }}
{{- $def := fromYaml (include "mauntic.def" .) }}
{{- $c := $def.values }}
apiVersion: apps/v1
kind: {{ ternary "StatefulSet" "Deployment" (default false $def.statefulSet) }}
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ include "mauntic.replicas" . }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "mauntic.selectorLabels" . | nindent 6 }}
  {{- if $def.statefulSet }}
  serviceName: {{ include "mauntic.componentName" . }}
  podManagementPolicy: Parallel
  {{- if $c.persistence.enabled }}
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "mauntic.selectorLabels" . | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $c.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $c.persistence.size }}
  {{- end }}
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  {{- end }}
  template:
    {{- include "mauntic.podTemplate" . | nindent 4 }}
{{- end }}
{{- end }}

{{- define "mauntic.service" -}}
{{- if include "mauntic.enabled" . }}
{{- $c := index .root.Values.components .name }}
{{- $def := fromYaml (include "mauntic.def" .) }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
  {{- with $c.service.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $c.service.type }}
  selector:
    {{- include "mauntic.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ $def.portName | default "http" }}
      port: {{ $c.port }}
      targetPort: {{ $def.portName | default "http" }}
      protocol: TCP
    {{- range $def.extraPorts }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end }}

{{- define "mauntic.serviceAccount" -}}
{{- if and (include "mauntic.enabled" .) (index .root.Values.components .name).serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
  {{- with (index .root.Values.components .name).serviceAccount.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{- define "mauntic.hpa" -}}
{{- $c := index .root.Values.components .name }}
{{- if and (include "mauntic.enabled" .) $c.autoscaling.enabled }}
{{- $def := fromYaml (include "mauntic.def" .) }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ ternary "StatefulSet" "Deployment" (default false $def.statefulSet) }}
    name: {{ include "mauntic.componentName" . }}
  minReplicas: {{ $c.autoscaling.minReplicas }}
  maxReplicas: {{ $c.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $c.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{- define "mauntic.pdb" -}}
{{- $c := index .root.Values.components .name }}
{{- if and (include "mauntic.enabled" .) $c.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $c.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "mauntic.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/*
Ingress policy: the definition's `ingressFrom` names the components allowed in ("*" = anyone, or
networkPolicy.gatewayFrom for the gateway) on its application port; each of its `extraPorts` admits
the components its `from` lists; networkPolicy.metricsFrom may always scrape, on the metrics port
(metrics.port) alone.
*/}}
{{- define "mauntic.networkPolicy" -}}
{{- $root := .root }}
{{- if and (include "mauntic.enabled" .) $root.Values.networkPolicy.enabled }}
{{- $def := fromYaml (include "mauntic.def" .) }}
{{- $c := $def.values }}
{{- $from := $def.ingressFrom | default list }}
{{- $port := $def.portName | default "http" }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "mauntic.componentName" . }}
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "mauntic.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    {{- if has "*" $from }}
    - ports:
        - port: {{ $port }}
    {{- else if has "public" $from }}
    - ports:
        - port: {{ $port }}
      {{- with $root.Values.networkPolicy.gatewayFrom }}
      from: {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- else if $from }}
    - ports:
        - port: {{ $port }}
      from:
        {{- range $from }}
        - podSelector:
            matchLabels:
              {{- include "mauntic.selectorLabels" (dict "root" $root "name" .) | nindent 14 }}
        {{- end }}
    {{- end }}
    {{- range $def.extraPorts }}
    - ports:
        - port: {{ .name }}
      from:
        {{- range .from }}
        - podSelector:
            matchLabels:
              {{- include "mauntic.selectorLabels" (dict "root" $root "name" .) | nindent 14 }}
        {{- end }}
    {{- end }}
    {{- with $root.Values.networkPolicy.metricsFrom }}
    - ports:
        - port: {{ ternary $port "metrics" (default false $def.noMetrics) }}
      from: {{- toYaml . | nindent 8 }}
    {{- end }}
{{- end }}
{{- end }}

{{/* The context's migrations as a pre-install/pre-upgrade Job (node dist/migrate.js). */}}
{{- define "mauntic.migrationJob" -}}
{{- $root := .root }}
{{- if and (include "mauntic.enabled" .) $root.Values.migrations.enabled }}
{{- $c := index $root.Values.components .name }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "mauntic.componentName" . }}-migrate
  labels:
    {{- include "mauntic.componentLabels" . | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $root.Values.migrations.backoffLimit }}
  activeDeadlineSeconds: {{ $root.Values.migrations.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "mauntic.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/role: migration
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: migrate
          {{- include "mauntic.image" . | nindent 10 }}
          command: [node, dist/migrate.js]
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  {{- if $root.Values.postgres.existingSecret }}
                  {{- include "mauntic.databaseSecretRef" $root | nindent 18 }}
                  {{- else }}
                  name: {{ include "mauntic.fullname" $root }}-migrations
                  key: database-url
                  {{- end }}
            - name: DATABASE_POOL_SIZE
              value: "2"
            - name: LOG_LEVEL
              value: {{ index $root.Values.env "LOG_LEVEL" | default "info" | quote }}
          resources:
            {{- toYaml $root.Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
{{- end }}
{{- end }}

{{- define "mauntic.databaseUrl" -}}
{{- if .Values.trial.enabled -}}
{{- $pw := include "mauntic.trialPassword" . -}}
postgres://mauntic:{{ $pw }}@{{ include "mauntic.fullname" . }}-postgres:5432/mauntic
{{- else -}}
{{- required "postgres.url or postgres.existingSecret is required (or trial.enabled)" .Values.postgres.url }}
{{- end }}
{{- end }}

{{- define "mauntic.redisUrl" -}}
{{- if .Values.trial.enabled -}}
redis://{{ include "mauntic.fullname" . }}-redis:6379/0
{{- else -}}
{{- required "redis.url or redis.existingSecret is required (or trial.enabled)" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The trial PostgreSQL's password: generated once, then read back from its Secret. */}}
{{- define "mauntic.trialPassword" -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (printf "%s-postgres" (include "mauntic.fullname" .)) }}
{{- if $secret }}{{ index $secret.data "password" | b64dec }}
{{- else }}
{{- /* Drawn once per render and remembered, so every template of this render agrees. */}}
{{- if not (hasKey .Values "generatedTrialPassword") }}{{ $_ := set .Values "generatedTrialPassword" (randAlphaNum 32) }}{{ end }}
{{- .Values.generatedTrialPassword }}
{{- end }}
{{- end }}
