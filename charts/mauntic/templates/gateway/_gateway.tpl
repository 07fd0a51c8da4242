{{/* The gateway: serves the supergraph (mounted from its ConfigMap) over every subgraph it names. */}}
{{- define "mauntic.component.gateway" -}}
needs: [secrets, redis, kafka]
ingressFrom: [public]
podAnnotations:
  # A new supergraph rolls the gateway's pods.
  checksum/supergraph: {{ .Files.Get "files/supergraph.graphql" | sha256sum }}
volumes:
  - name: supergraph
    configMap:
      name: {{ include "mauntic.fullname" . }}-supergraph
volumeMounts:
  - name: supergraph
    mountPath: /etc/mauntic
    readOnly: true
wiredEnv:
  - name: SUPERGRAPH_PATH
    value: /etc/mauntic/supergraph.graphql
  - name: IDENTITY_INTERNAL_URL
    value: http://{{ include "mauntic.componentName" (dict "root" . "name" "identity") }}:{{ .Values.components.identity.port }}
  {{- /* <NAME>_URL for every subgraph the supergraph names, pointing at that component's Service. */}}
  {{- range include "mauntic.subgraphs" . | fromJsonArray }}
  - name: {{ upper . | replace "-" "_" }}_URL
    value: http://{{ include "mauntic.componentName" (dict "root" $ "name" .) }}:{{ (index $.Values.components . | required (printf "components.%s: the supergraph names this subgraph but the chart has no component for it" .)).port }}/graphql
  {{- end }}
{{- end }}

{{/* The subgraph names in the supergraph (its join__Graph enum), as a JSON list. */}}
{{- define "mauntic.subgraphs" -}}
{{- $names := list }}
{{- range regexFindAll "@join__graph\\(name: \"[A-Za-z0-9_-]+\"" (.Files.Get "files/supergraph.graphql") -1 }}
{{- $names = append $names (regexReplaceAll "@join__graph\\(name: \"([A-Za-z0-9_-]+)\"" . "${1}") }}
{{- end }}
{{- toJson $names }}
{{- end }}
