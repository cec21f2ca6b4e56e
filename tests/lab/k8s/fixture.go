// fixture.go: the initial cluster: namespace tmi with deployment tmi-api,
// statefulsets postgres and redis, their services, a network policy, events
// and two nodes. Pods, ReplicaSets and Endpoints are made by the controllers
// (controllers.go) from these, as a real control plane would.
package main

import (
	"encoding/json"
	"time"
)

const fixtureJSON = `[
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","labels":{"kubernetes.io/metadata.name":"default"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system","labels":{"kubernetes.io/metadata.name":"kube-system"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tmi","labels":{"kubernetes.io/metadata.name":"tmi"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
{"apiVersion":"v1","kind":"Node","metadata":{"name":"lab-node-1","labels":{"kubernetes.io/hostname":"lab-node-1","kubernetes.io/os":"linux","node-role.kubernetes.io/control-plane":""}},
 "spec":{"podCIDR":"10.244.0.0/24"},
 "status":{"capacity":{"cpu":"4","memory":"16374584Ki","pods":"110","ephemeral-storage":"102687672Ki"},
  "allocatable":{"cpu":"4","memory":"16272184Ki","pods":"110","ephemeral-storage":"94636958209"},
  "conditions":[{"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory"},{"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure"},{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}],
  "addresses":[{"type":"InternalIP","address":"10.0.0.11"},{"type":"Hostname","address":"lab-node-1"}],
  "nodeInfo":{"kubeletVersion":"v1.31.0","kubeProxyVersion":"v1.31.0","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7.2","operatingSystem":"linux","architecture":"amd64"}}},
{"apiVersion":"v1","kind":"Node","metadata":{"name":"lab-node-2","labels":{"kubernetes.io/hostname":"lab-node-2","kubernetes.io/os":"linux"}},
 "spec":{"podCIDR":"10.244.1.0/24"},
 "status":{"capacity":{"cpu":"4","memory":"16374584Ki","pods":"110","ephemeral-storage":"102687672Ki"},
  "allocatable":{"cpu":"4","memory":"16272184Ki","pods":"110","ephemeral-storage":"94636958209"},
  "conditions":[{"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory"},{"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure"},{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}],
  "addresses":[{"type":"InternalIP","address":"10.0.0.12"},{"type":"Hostname","address":"lab-node-2"}],
  "nodeInfo":{"kubeletVersion":"v1.31.0","kubeProxyVersion":"v1.31.0","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7.2","operatingSystem":"linux","architecture":"amd64"}}},
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"tmi-api","namespace":"tmi","labels":{"app":"tmi-api"}},
 "spec":{"replicas":3,"selector":{"matchLabels":{"app":"tmi-api"}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600,
  "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
  "template":{"metadata":{"labels":{"app":"tmi-api"}},
   "spec":{"containers":[{"name":"tmi-api","image":"registry.lab/tmi-api:1.8.2","imagePullPolicy":"IfNotPresent",
     "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},{"name":"pprof","containerPort":6060,"protocol":"TCP"}],
     "env":[{"name":"LOG_LEVEL","value":"info"},{"name":"DB_POOL_MAX","value":"20"},{"name":"REDIS_URL","value":"redis://redis:6379/0"}],
     "resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"1","memory":"512Mi"}},
     "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],
    "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","schedulerName":"default-scheduler"}}}},
{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"postgres","namespace":"tmi","labels":{"app":"postgres"}},
 "spec":{"replicas":1,"serviceName":"postgres","selector":{"matchLabels":{"app":"postgres"}},
  "template":{"metadata":{"labels":{"app":"postgres"}},
   "spec":{"containers":[{"name":"postgres","image":"postgres:15","ports":[{"name":"postgres","containerPort":5432,"protocol":"TCP"}],
     "env":[{"name":"POSTGRES_DB","value":"tmi"}],
     "resources":{"requests":{"cpu":"500m","memory":"1Gi"},"limits":{"cpu":"2","memory":"2Gi"}}}],
    "restartPolicy":"Always","terminationGracePeriodSeconds":30}}}},
{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"redis","namespace":"tmi","labels":{"app":"redis"}},
 "spec":{"replicas":1,"serviceName":"redis","selector":{"matchLabels":{"app":"redis"}},
  "template":{"metadata":{"labels":{"app":"redis"}},
   "spec":{"containers":[{"name":"redis","image":"redis:7","ports":[{"name":"redis","containerPort":6379,"protocol":"TCP"}],
     "resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}}],
    "restartPolicy":"Always","terminationGracePeriodSeconds":30}}}},
{"apiVersion":"v1","kind":"Service","metadata":{"name":"tmi-api-service","namespace":"tmi","labels":{"app":"tmi-api"}},
 "spec":{"type":"ClusterIP","clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20"],"selector":{"app":"tmi-api"},
  "ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"},{"name":"pprof","port":6060,"targetPort":6060,"protocol":"TCP"}],"sessionAffinity":"None"},
 "status":{"loadBalancer":{}}},
{"apiVersion":"v1","kind":"Service","metadata":{"name":"postgres","namespace":"tmi","labels":{"app":"postgres"}},
 "spec":{"type":"ClusterIP","clusterIP":"10.96.0.21","clusterIPs":["10.96.0.21"],"selector":{"app":"postgres"},
  "ports":[{"name":"postgres","port":5432,"targetPort":5432,"protocol":"TCP"}],"sessionAffinity":"None"},
 "status":{"loadBalancer":{}}},
{"apiVersion":"v1","kind":"Service","metadata":{"name":"redis","namespace":"tmi","labels":{"app":"redis"}},
 "spec":{"type":"ClusterIP","clusterIP":"10.96.0.22","clusterIPs":["10.96.0.22"],"selector":{"app":"redis"},
  "ports":[{"name":"redis","port":6379,"targetPort":6379,"protocol":"TCP"}],"sessionAffinity":"None"},
 "status":{"loadBalancer":{}}},
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"tmi-api-ingress","namespace":"tmi"},
 "spec":{"podSelector":{"matchLabels":{"app":"tmi-api"}},"policyTypes":["Ingress"],
  "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}],"ports":[{"port":8080,"protocol":"TCP"}]}]}},
{"apiVersion":"v1","kind":"Event","metadata":{"name":"tmi-api.1800000000000001","namespace":"tmi"},
 "involvedObject":{"apiVersion":"apps/v1","kind":"Deployment","name":"tmi-api","namespace":"tmi"},
 "reason":"ScalingReplicaSet","message":"Scaled up replica set tmi-api to 3","type":"Normal","count":1,
 "source":{"component":"deployment-controller"},"reportingComponent":"deployment-controller"},
{"apiVersion":"v1","kind":"Event","metadata":{"name":"postgres-0.1800000000000002","namespace":"tmi"},
 "involvedObject":{"apiVersion":"v1","kind":"Pod","name":"postgres-0","namespace":"tmi"},
 "reason":"Started","message":"Started container postgres","type":"Normal","count":1,
 "source":{"component":"kubelet","host":"lab-node-1"},"reportingComponent":"kubelet"},
{"apiVersion":"v1","kind":"Event","metadata":{"name":"tmi-api.1800000000000003","namespace":"tmi"},
 "involvedObject":{"apiVersion":"apps/v1","kind":"Deployment","name":"tmi-api","namespace":"tmi"},
 "reason":"Unhealthy","message":"Readiness probe failed: HTTP probe failed with statuscode: 503","type":"Warning","count":4,
 "source":{"component":"kubelet","host":"lab-node-2"},"reportingComponent":"kubelet"}
]`

// loadFixture fills an empty store; the caller holds s.mu.
func loadFixture(s *Store) {
	var objs []obj
	if err := json.Unmarshal([]byte(fixtureJSON), &objs); err != nil {
		panic("fixture: " + err.Error())
	}
	for i, o := range objs {
		s.stamp(o, s.epoch)
		if mstr(o, "kind") == "Event" {
			at := rfc3339(s.epoch.Add(time.Duration(i) * time.Minute))
			o["firstTimestamp"], o["lastTimestamp"] = at, at
		}
		s.put(o)
	}
}
