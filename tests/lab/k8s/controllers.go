// controllers.go: what the control plane would do after each write, done at
// once and in a fixed order: Deployments make ReplicaSets (one per distinct
// pod template), ReplicaSets and StatefulSets make or remove Pods, owners'
// deletion collects dependents, a namespace's deletion its contents,
// Services get Endpoints, and the workloads'
// status follows their pods. Every pod is Running and Ready immediately.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
)

const restartedAtKey = "kubectl.kubernetes.io/restartedAt"
const revisionKey = "deployment.kubernetes.io/revision"
const historyKey = "deployment.kubernetes.io/revision-history"

// reconcile runs the controllers until nothing changes; caller holds s.mu.
func (s *Store) reconcile() {
	for i := 0; i < 10; i++ {
		before := s.rv
		for _, d := range s.list("deployments", "") {
			s.syncDeployment(d)
		}
		for _, rs := range s.list("replicasets", "") {
			s.syncReplicaSet(rs)
		}
		for _, st := range s.list("statefulsets", "") {
			s.syncStatefulSet(st)
		}
		s.collectGarbage()
		if s.rv == before {
			break
		}
	}
	s.syncEndpoints()
	s.syncStatuses()
}

// safeEncode is k8s.io/apimachinery rand.SafeEncodeString.
func safeEncode(in string) string {
	const alphanums = "bcdfghjklmnpqrstvwxz2456789"
	out := make([]byte, len(in))
	for i := 0; i < len(in); i++ {
		out[i] = alphanums[int(in[i])%len(alphanums)]
	}
	return string(out)
}

// templateHash is derived from the template without the restartedAt value
// (a client clock) and the revision, so the same requests give the same names.
func templateHash(tmpl obj, revision int) string {
	t := copyObj(tmpl)
	if ann := mmap(t, "metadata", "annotations"); ann != nil {
		if _, ok := ann[restartedAtKey]; ok {
			ann[restartedAtKey] = "-"
		}
	}
	h := fnv.New32a()
	h.Write([]byte(fmt.Sprintf("%s#%d", mustJSON(t), revision)))
	return safeEncode(strconv.FormatUint(uint64(h.Sum32()), 10))
}

func ownedBy(o obj, uid string) bool {
	for _, r := range mlist(o, "metadata", "ownerReferences") {
		if mstr(r, "uid") == uid {
			return true
		}
	}
	return false
}

func (s *Store) owned(plural, ns, uid string) []obj {
	var out []obj
	for _, o := range s.list(plural, ns) {
		if ownedBy(o, uid) {
			out = append(out, o)
		}
	}
	/* uids come from a counter: their order is creation order */
	sort.SliceStable(out, func(i, j int) bool {
		return mstr(out[i], "metadata", "uid") < mstr(out[j], "metadata", "uid")
	})
	return out
}

func ownerRef(o obj) obj {
	return obj{"apiVersion": resByKind(mstr(o, "kind")).apiVersion(), "kind": mstr(o, "kind"), "name": name(o),
		"uid": mstr(o, "metadata", "uid"), "controller": true, "blockOwnerDeletion": true}
}

func withoutLabel(tmpl obj, label string) obj {
	t := copyObj(tmpl)
	if l := mmap(t, "metadata", "labels"); l != nil {
		delete(l, label)
	}
	return t
}

func revisionOf(o obj) int {
	n, _ := strconv.Atoi(mstr(o, "metadata", "annotations", revisionKey))
	return n
}

func (s *Store) syncDeployment(d obj) {
	ns, uid := mstr(d, "metadata", "namespace"), mstr(d, "metadata", "uid")
	tmpl := mmap(d, "spec", "template")
	rss := s.owned("replicasets", ns, uid)
	var cur obj
	maxRev := 0
	for _, rs := range rss {
		if jsonEqual(withoutLabel(mmap(rs, "spec", "template"), "pod-template-hash"), tmpl) {
			cur = rs
		}
		if r := revisionOf(rs); r > maxRev {
			maxRev = r
		}
	}
	replicas, _ := mint(d, "spec", "replicas")
	if cur == nil {
		cur = s.newReplicaSet(d, maxRev+1)
	} else if revisionOf(cur) != maxRev {
		// an older template again (a rollback): the controller moves its
		// ReplicaSet to the next revision and keeps the old number in
		// revision-history
		cur = copyObj(cur)
		ann := ensure(cur, "metadata", "annotations")
		old := mstr(cur, "metadata", "annotations", revisionKey)
		if h, _ := ann[historyKey].(string); h != "" {
			old = h + "," + old
		}
		ann[historyKey] = old
		ann[revisionKey] = strconv.Itoa(maxRev + 1)
		s.put(cur)
	}
	if copied := copyAnnotations(d, cur); copied != nil {
		cur = copied
		s.put(cur)
	}
	for _, rs := range s.owned("replicasets", ns, uid) {
		want := 0
		if name(rs) == name(cur) {
			want = replicas
		}
		if n, _ := mint(rs, "spec", "replicas"); n != want {
			rs = copyObj(rs)
			rs["spec"].(obj)["replicas"] = float64(want)
			s.put(rs)
		}
	}
	if mstr(d, "metadata", "annotations", revisionKey) != mstr(cur, "metadata", "annotations", revisionKey) {
		d = copyObj(d)
		ensure(d, "metadata", "annotations")[revisionKey] = mstr(cur, "metadata", "annotations", revisionKey)
		s.put(d)
	}
}

// Annotations the controller does not copy from a Deployment to its ReplicaSet.
var notCopied = map[string]bool{revisionKey: true, historyKey: true,
	"kubectl.kubernetes.io/last-applied-configuration": true,
	"deployment.kubernetes.io/desired-replicas":        true, "deployment.kubernetes.io/max-replicas": true}

// copyAnnotations: the deployment's annotations (change-cause ...) onto its
// current ReplicaSet, as the controller does; nil when nothing changes.
func copyAnnotations(d, rs obj) obj {
	var out obj
	for k, v := range mmap(d, "metadata", "annotations") {
		if notCopied[k] || mstr(rs, "metadata", "annotations", k) == v {
			continue
		}
		if out == nil {
			out = copyObj(rs)
		}
		ensure(out, "metadata", "annotations")[k] = v
	}
	return out
}

func (s *Store) newReplicaSet(d obj, revision int) obj {
	tmpl := copyObj(mmap(d, "spec", "template"))
	hash := templateHash(tmpl, revision)
	ensure(tmpl, "metadata", "labels")["pod-template-hash"] = hash
	sel := copyObj(mmap(d, "spec", "selector"))
	ensure(sel, "matchLabels")["pod-template-hash"] = hash
	labels := copyObj(mmap(tmpl, "metadata", "labels"))
	rs := obj{"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": obj{"name": name(d) + "-" + hash, "namespace": mstr(d, "metadata", "namespace"), "labels": labels,
			"annotations":     obj{revisionKey: strconv.Itoa(revision)},
			"ownerReferences": []interface{}{ownerRef(d)}},
		"spec": obj{"replicas": float64(0), "selector": sel, "template": tmpl}}
	s.stamp(rs, s.now())
	s.put(rs)
	return rs
}

func (s *Store) syncReplicaSet(rs obj) {
	ns := mstr(rs, "metadata", "namespace")
	pods := s.owned("pods", ns, mstr(rs, "metadata", "uid"))
	want, _ := mint(rs, "spec", "replicas")
	for i := len(pods); i < want; i++ {
		n := name(rs) + "-" + s.randSuffix(5)
		for s.get("pods", ns, n) != nil {
			n = name(rs) + "-" + s.randSuffix(5)
		}
		pod := s.newPod(rs, n, nil)
		meta(pod)["generateName"] = name(rs) + "-"
		s.put(pod)
	}
	for i := len(pods) - 1; i >= want; i-- {
		s.remove("pods", ns, name(pods[i]))
	}
}

func (s *Store) syncStatefulSet(st obj) {
	ns := mstr(st, "metadata", "namespace")
	want, _ := mint(st, "spec", "replicas")
	rev := name(st) + "-" + templateHash(mmap(st, "spec", "template"), 0)
	for _, p := range s.owned("pods", ns, mstr(st, "metadata", "uid")) {
		var ord int
		fmt.Sscanf(name(p)[len(name(st))+1:], "%d", &ord)
		if ord >= want || mstr(p, "metadata", "labels", "controller-revision-hash") != rev {
			s.remove("pods", ns, name(p))
		}
	}
	for i := 0; i < want; i++ {
		n := fmt.Sprintf("%s-%d", name(st), i)
		if s.get("pods", ns, n) == nil {
			s.put(s.newPod(st, n, map[string]string{"controller-revision-hash": rev,
				"statefulset.kubernetes.io/pod-name": n, "apps.kubernetes.io/pod-index": strconv.Itoa(i)}))
		}
	}
}

func qosClass(containers []interface{}) string {
	guaranteed, any := true, false
	for _, c := range containers {
		req, lim := mmap(c, "resources", "requests"), mmap(c, "resources", "limits")
		if len(req) > 0 || len(lim) > 0 {
			any = true
		}
		for _, r := range []string{"cpu", "memory"} {
			l := mstr(lim, r)
			if l == "" || (mstr(req, r) != "" && mstr(req, r) != l) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	}
	return "Burstable"
}

// newPod builds a running, ready pod from its owner's template.
func (s *Store) newPod(owner obj, podName string, extra map[string]string) obj {
	tmpl := copyObj(mmap(owner, "spec", "template"))
	m := ensure(tmpl, "metadata")
	m["name"], m["namespace"] = podName, mstr(owner, "metadata", "namespace")
	m["ownerReferences"] = []interface{}{ownerRef(owner)}
	for k, v := range extra {
		ensure(m, "labels")[k] = v
	}
	pod := obj{"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": ensure(tmpl, "spec")}
	s.stamp(pod, s.now())
	s.runPod(pod)
	return pod
}

// runPod schedules a pod on a node and makes it Running and Ready.
func (s *Store) runPod(pod obj) {
	now := rfc3339(s.now())
	ip := s.nextIP()
	spec := ensure(pod, "spec")
	if mstr(spec, "nodeName") == "" {
		spec["nodeName"] = fmt.Sprintf("lab-node-%d", 1+s.ipN%2)
	}
	if _, ok := spec["serviceAccountName"]; !ok {
		spec["serviceAccountName"] = "default"
	}
	var statuses []interface{}
	for _, c := range mlist(spec, "containers") {
		sum := sha256.Sum256([]byte(mstr(pod, "metadata", "uid") + "/" + mstr(c, "name")))
		statuses = append(statuses, obj{"name": mstr(c, "name"), "image": mstr(c, "image"), "imageID": mstr(c, "image"),
			"containerID": "containerd://" + hex.EncodeToString(sum[:]), "ready": true, "started": true,
			"restartCount": float64(0), "state": obj{"running": obj{"startedAt": now}}})
	}
	var conds []interface{}
	for _, t := range []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		conds = append(conds, obj{"type": t, "status": "True", "lastTransitionTime": now})
	}
	pod["status"] = obj{"phase": "Running", "hostIP": "10.0.0." + strconv.Itoa(10+1+s.ipN%2), "podIP": ip,
		"podIPs": []interface{}{obj{"ip": ip}}, "startTime": now, "conditions": conds,
		"containerStatuses": statuses, "qosClass": qosClass(mlist(spec, "containers"))}
}

// collectGarbage removes objects whose owners are gone (background
// propagation), as the garbage collector does, and everything in a deleted
// namespace, as the namespace controller does (at once: no Terminating).
func (s *Store) collectGarbage() {
	uids := map[string]bool{}
	for _, o := range s.objs {
		uids[mstr(o, "metadata", "uid")] = true
	}
	for _, k := range sortedKeys(s.objs) {
		o := s.objs[k]
		if ns := mstr(o, "metadata", "namespace"); ns != "" && s.get("namespaces", "", ns) == nil {
			s.remove(resByKind(mstr(o, "kind")).plural, ns, name(o))
			continue
		}
		refs := mlist(o, "metadata", "ownerReferences")
		if len(refs) == 0 {
			continue
		}
		alive := false
		for _, r := range refs {
			alive = alive || uids[mstr(r, "uid")]
		}
		if !alive {
			s.remove(resByKind(mstr(o, "kind")).plural, mstr(o, "metadata", "namespace"), name(o))
		}
	}
}

func podReady(p obj) bool {
	for _, c := range mlist(p, "status", "conditions") {
		if mstr(c, "type") == "Ready" {
			return mstr(c, "status") == "True"
		}
	}
	return false
}

func (s *Store) syncEndpoints() {
	for _, ep := range s.list("endpoints", "") {
		if s.get("services", mstr(ep, "metadata", "namespace"), name(ep)) == nil {
			s.remove("endpoints", mstr(ep, "metadata", "namespace"), name(ep))
		}
	}
	for _, svc := range s.list("services", "") {
		sel := mmap(svc, "spec", "selector")
		if sel == nil {
			continue
		}
		ns := mstr(svc, "metadata", "namespace")
		var addrs []interface{}
		for _, p := range s.list("pods", ns) {
			if matchLabelsMap(sel, labelsOf(p)) && podReady(p) {
				addrs = append(addrs, obj{"ip": mstr(p, "status", "podIP"), "nodeName": mstr(p, "spec", "nodeName"),
					"targetRef": obj{"kind": "Pod", "name": name(p), "namespace": ns, "uid": mstr(p, "metadata", "uid")}})
			}
		}
		sort.SliceStable(addrs, func(i, j int) bool { return mstr(addrs[i], "ip") < mstr(addrs[j], "ip") })
		var ports []interface{}
		for _, sp := range mlist(svc, "spec", "ports") {
			port := mget(sp, "targetPort")
			if _, isNum := port.(float64); !isNum {
				port = mget(sp, "port")
			}
			ports = append(ports, obj{"name": mstr(sp, "name"), "port": port, "protocol": mstr(sp, "protocol")})
		}
		ep := obj{"apiVersion": "v1", "kind": "Endpoints",
			"metadata": obj{"name": name(svc), "namespace": ns, "labels": mmap(svc, "metadata", "labels")}}
		if len(addrs) > 0 {
			ep["subsets"] = []interface{}{obj{"addresses": addrs, "ports": ports}}
		}
		if cur := s.get("endpoints", ns, name(svc)); cur != nil {
			for _, f := range []string{"uid", "creationTimestamp"} {
				meta(ep)[f] = mstr(cur, "metadata", f)
			}
		} else {
			s.stamp(ep, s.now())
		}
		s.putIfChanged(ep)
	}
}

func (s *Store) podCounts(ns, uid string) (total, ready int) {
	for _, p := range s.owned("pods", ns, uid) {
		total++
		if podReady(p) {
			ready++
		}
	}
	return
}

func (s *Store) syncStatuses() {
	for _, rs := range s.list("replicasets", "") {
		total, ready := s.podCounts(mstr(rs, "metadata", "namespace"), mstr(rs, "metadata", "uid"))
		rs = copyObj(rs)
		rs["status"] = obj{"replicas": float64(total), "fullyLabeledReplicas": float64(total), "readyReplicas": float64(ready),
			"availableReplicas": float64(ready), "observedGeneration": mget(rs, "metadata", "generation")}
		s.putIfChanged(rs)
	}
	for _, d := range s.list("deployments", "") {
		s.putIfChanged(s.deploymentStatus(copyObj(d)))
	}
	for _, st := range s.list("statefulsets", "") {
		total, ready := s.podCounts(mstr(st, "metadata", "namespace"), mstr(st, "metadata", "uid"))
		st = copyObj(st)
		rev := name(st) + "-" + templateHash(mmap(st, "spec", "template"), 0)
		st["status"] = obj{"replicas": float64(total), "readyReplicas": float64(ready), "currentReplicas": float64(total),
			"updatedReplicas": float64(total), "availableReplicas": float64(ready), "currentRevision": rev,
			"updateRevision": rev, "observedGeneration": mget(st, "metadata", "generation"), "collisionCount": float64(0)}
		s.putIfChanged(st)
	}
}

func (s *Store) deploymentStatus(d obj) obj {
	ns := mstr(d, "metadata", "namespace")
	var total, ready, updated int
	var cur obj
	for _, rs := range s.owned("replicasets", ns, mstr(d, "metadata", "uid")) {
		t, r := s.podCounts(ns, mstr(rs, "metadata", "uid"))
		total, ready = total+t, ready+r
		if jsonEqual(withoutLabel(mmap(rs, "spec", "template"), "pod-template-hash"), mmap(d, "spec", "template")) {
			cur, updated = rs, t
		}
	}
	want, _ := mint(d, "spec", "replicas")
	st := obj{"observedGeneration": mget(d, "metadata", "generation"), "replicas": float64(total),
		"updatedReplicas": float64(updated), "readyReplicas": float64(ready), "availableReplicas": float64(ready)}
	if total-ready > 0 {
		st["unavailableReplicas"] = float64(total - ready)
	}
	since := mstr(d, "metadata", "creationTimestamp")
	rsName := ""
	if cur != nil {
		since, rsName = mstr(cur, "metadata", "creationTimestamp"), name(cur)
	}
	avail := "True"
	if ready < want {
		avail = "False"
	}
	st["conditions"] = []interface{}{
		obj{"type": "Available", "status": avail, "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
			"lastUpdateTime": since, "lastTransitionTime": since},
		obj{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
			"message": fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName), "lastUpdateTime": since, "lastTransitionTime": since}}
	if ready == 0 && want == 0 {
		delete(st, "readyReplicas")
		delete(st, "availableReplicas")
	}
	d["status"] = st
	return d
}
