// Command peer is the govmomi side of the benchmark (test/bench/run.ts): the same vCenter work
// the TypeScript provider does, written the way a competent govmomi user would write it.
//
//   - describe: one ContainerView on the group folder + one Retrieve of name, config.annotation
//     and guest.ipAddress into []mo.VirtualMachine, then keep the VMs whose annotation says they
//     belong to the group (its tags decoded from the annotation's JSON line), as the provider does.
//   - mirrorDescribe: the same answer from a mirror of the group folder kept the way a govmomi
//     user would: a collector of its own, one filter (folder traversal, the same properties and
//     config.changeVersion), WaitForUpdatesEx with maxWaitSeconds 0 and its own version before
//     each answer, the VMs whose changeVersion moved read again (vcsim reports an annotation
//     change only that way). The first call builds it (the initial read, in pages) and is timed.
//   - provision: CloneVM_Task + wait at a fixed concurrency, then the annotation repair vcsim
//     needs (it drops spec.config.annotation of a clone): ReconfigVM_Task + wait.
//   - teardown: PowerOff + wait (its error ignored, as govc vm.destroy does: the VM may be off),
//     then Destroy + wait.
//
// It logs in once at start-up, outside every timed part, then serves JSON requests, one per
// line on stdin, answering one JSON line each on stdout. Times are measured inside this process
// with time.Now (process start-up, login and the inventory look-ups a user would do once are not
// in them); SOAP round trips are counted at the vim25 client's RoundTripper.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// countingRoundTripper counts SOAP calls (HTTP round trips) made through the vim25 client.
type countingRoundTripper struct {
	next  soap.RoundTripper
	calls atomic.Int64
}

func (c *countingRoundTripper) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	c.calls.Add(1)
	return c.next.RoundTrip(ctx, req, res)
}

type request struct {
	Op          string `json:"op"`
	Group       string `json:"group"`
	Datacenter  string `json:"datacenter"`
	Datastore   string `json:"datastore"`
	Host        string `json:"host"`
	Template    string `json:"template"`
	ConfigHash  string `json:"configHash"`
	Count       int    `json:"count"`
	Concurrency int    `json:"concurrency"`
}

type response struct {
	Ok        bool     `json:"ok"`
	Error     string   `json:"error,omitempty"`
	Ms        float64  `json:"ms,omitempty"`
	Calls     int64    `json:"calls,omitempty"`
	Count     int      `json:"count,omitempty"`
	Failures  []string `json:"failures,omitempty"`
	MaxRssKB  int64    `json:"maxRssKB,omitempty"`
	Go        string   `json:"go,omitempty"`
	Govmomi   string   `json:"govmomi,omitempty"`
	Instances []string `json:"instances,omitempty"`
}

// description is what InfraKit's Describe returns per instance (ID and tags).
type description struct {
	ID   string
	Tags map[string]string
}

// placement is what a user looks up once and keeps: datacenter, template, pool, datastore, folder.
type placement struct {
	template  *object.VirtualMachine
	pool      types.ManagedObjectReference
	datastore types.ManagedObjectReference
	folder    *object.Folder
}

type peer struct {
	client     *govmomi.Client
	counter    *countingRoundTripper
	finder     *find.Finder
	datacenter string
	folders    map[string]types.ManagedObjectReference
	placements map[string]*placement
	instances  map[string][]types.ManagedObjectReference
	mirrors    map[string]*mirror
}

func main() {
	rawURL := flag.String("url", "", "vCenter SDK URL with credentials (https://user:pass@host/sdk)")
	insecure := flag.Bool("insecure", true, "skip TLS verification (vcsim's certificate is self-signed)")
	flag.Parse()
	ctx := context.Background()
	u, err := url.Parse(*rawURL)
	if err != nil || *rawURL == "" {
		fmt.Fprintln(os.Stderr, "peer: -url https://user:pass@host/sdk is required")
		os.Exit(2)
	}
	client, err := govmomi.NewClient(ctx, u, *insecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer: login:", err)
		os.Exit(1)
	}
	counter := &countingRoundTripper{next: client.Client.RoundTripper}
	client.Client.RoundTripper = counter
	p := &peer{
		client:     client,
		counter:    counter,
		finder:     find.NewFinder(client.Client, true),
		folders:    map[string]types.ManagedObjectReference{},
		placements: map[string]*placement{},
		instances:  map[string][]types.ManagedObjectReference{},
		mirrors:    map[string]*mirror{},
	}
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(response{Ok: true, Go: runtime.Version(), Govmomi: govmomiVersion()})
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			_ = out.Encode(response{Error: err.Error()})
			continue
		}
		if req.Op == "quit" {
			break
		}
		res, err := p.serve(ctx, req)
		if err != nil {
			res = response{Error: err.Error()}
		} else {
			res.Ok = true
		}
		_ = out.Encode(res)
	}
	_ = client.Logout(ctx)
}

func govmomiVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/vmware/govmomi" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func (p *peer) serve(ctx context.Context, req request) (response, error) {
	if req.Datacenter != "" && req.Datacenter != p.datacenter {
		dc, err := p.finder.Datacenter(ctx, req.Datacenter)
		if err != nil {
			return response{}, err
		}
		p.finder.SetDatacenter(dc)
		p.datacenter = req.Datacenter
	}
	switch req.Op {
	case "describe":
		return p.describe(ctx, req)
	case "mirrorDescribe":
		return p.mirrorDescribe(ctx, req)
	case "provision":
		return p.provision(ctx, req)
	case "teardown":
		return p.teardown(ctx, req)
	case "rusage":
		return response{MaxRssKB: maxRssKB()}, nil
	}
	return response{}, fmt.Errorf("unknown op %q", req.Op)
}

func maxRssKB() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return usage.Maxrss // kilobytes on Linux
}

// groupFolder finds the group folder once (a user keeps the reference).
func (p *peer) groupFolder(ctx context.Context, group string) (types.ManagedObjectReference, error) {
	if ref, ok := p.folders[group]; ok {
		return ref, nil
	}
	folder, err := p.finder.Folder(ctx, "vm/"+group)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	p.folders[group] = folder.Reference()
	return folder.Reference(), nil
}

func (p *peer) describe(ctx context.Context, req request) (response, error) {
	folder, err := p.groupFolder(ctx, req.Group)
	if err != nil {
		return response{}, err
	}
	calls := p.counter.calls.Load()
	start := time.Now()
	out, err := p.describeGroup(ctx, folder, req.Group)
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	if err != nil {
		return response{}, err
	}
	return response{Ms: ms, Calls: p.counter.calls.Load() - calls, Count: len(out)}, nil
}

func (p *peer) describeGroup(ctx context.Context, folder types.ManagedObjectReference, group string) ([]description, error) {
	m := view.NewManager(p.client.Client)
	v, err := m.CreateContainerView(ctx, folder, []string{"VirtualMachine"}, false)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.annotation", "guest.ipAddress"}, &vms); err != nil {
		return nil, err
	}
	out := make([]description, 0, len(vms))
	for i := range vms {
		vm := &vms[i]
		if vm.Config == nil {
			continue
		}
		tags, ok := groupTags(vm.Config.Annotation, group)
		if !ok {
			continue
		}
		ip := ""
		if vm.Guest != nil {
			ip = vm.Guest.IpAddress
		}
		tags["guestIP"] = ip
		out = append(out, description{ID: vm.Name, Tags: tags})
	}
	return out, nil
}

const markerPrefix = "infrakit-vsphere/v"

// groupTags reads an annotation as the provider writes it ("group\nhash\ninfrakit-vsphere/v1 {json}")
// or as the original plugin did ("group\nhash\n..."): the tags when line 0 is the group.
func groupTags(annotation, group string) (map[string]string, bool) {
	lines := strings.SplitN(annotation, "\n", 4)
	if len(lines) < 2 || lines[0] != group {
		return nil, false
	}
	tags := map[string]string{}
	if len(lines) >= 3 && strings.HasPrefix(lines[2], markerPrefix) {
		if sp := strings.IndexByte(lines[2], ' '); sp > 0 {
			var meta struct {
				Tags map[string]string `json:"tags"`
			}
			if err := json.Unmarshal([]byte(lines[2][sp+1:]), &meta); err == nil && meta.Tags != nil {
				tags = meta.Tags
			}
		}
	}
	tags["infrakit.group"] = group
	tags["infrakit.config.hash"] = lines[1]
	return tags, true
}

func (p *peer) placementFor(ctx context.Context, req request) (*placement, error) {
	key := req.Group + "\x00" + req.Template
	if pl, ok := p.placements[key]; ok {
		return pl, nil
	}
	template, err := p.finder.VirtualMachine(ctx, req.Template)
	if err != nil {
		return nil, err
	}
	host, err := p.finder.HostSystem(ctx, req.Host)
	if err != nil {
		return nil, err
	}
	pool, err := host.ResourcePool(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := p.finder.Datastore(ctx, req.Datastore)
	if err != nil {
		return nil, err
	}
	folders, err := p.finder.DefaultFolder(ctx)
	if err != nil {
		return nil, err
	}
	folder, err := p.finder.Folder(ctx, "vm/"+req.Group)
	if err != nil {
		folder, err = folders.CreateFolder(ctx, req.Group)
		if err != nil {
			return nil, err
		}
	}
	pl := &placement{template: template, pool: pool.Reference(), datastore: ds.Reference(), folder: folder}
	p.placements[key] = pl
	return pl, nil
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("vm-%d", binary.BigEndian.Uint64(b[:])&0x7fffffffffffffff)
}

func annotationFor(group, hash string) string {
	meta, _ := json.Marshal(map[string]any{"tags": map[string]string{
		"infrakit.group":       group,
		"infrakit.config.hash": hash,
	}})
	return group + "\n" + hash + "\n" + markerPrefix + "1 " + string(meta)
}

// each runs fn on every item with `concurrency` goroutines; it returns the error messages.
func each[T any](items []T, concurrency int, fn func(T) error) []string {
	var mu sync.Mutex
	var failures []string
	work := make(chan T)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range work {
				if err := fn(item); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for _, item := range items {
		work <- item
	}
	close(work)
	wg.Wait()
	return failures
}

func (p *peer) provision(ctx context.Context, req request) (response, error) {
	pl, err := p.placementFor(ctx, req)
	if err != nil {
		return response{}, err
	}
	concurrency := max(req.Concurrency, 1)
	annotation := annotationFor(req.Group, req.ConfigHash)
	names := make([]string, req.Count)
	for i := range names {
		names[i] = randomName()
	}
	var mu sync.Mutex
	made := make([]types.ManagedObjectReference, 0, req.Count)
	calls := p.counter.calls.Load()
	start := time.Now()
	failures := each(names, concurrency, func(name string) error {
		spec := types.VirtualMachineCloneSpec{
			Location: types.VirtualMachineRelocateSpec{Pool: &pl.pool, Datastore: &pl.datastore},
			Config:   &types.VirtualMachineConfigSpec{Annotation: annotation},
			PowerOn:  false,
		}
		task, err := pl.template.Clone(ctx, pl.folder, name, spec)
		if err != nil {
			return err
		}
		info, err := task.WaitForResult(ctx)
		if err != nil {
			return err
		}
		ref, ok := info.Result.(types.ManagedObjectReference)
		if !ok {
			return fmt.Errorf("clone %s: no VM in the task result", name)
		}
		mu.Lock()
		made = append(made, ref)
		mu.Unlock()
		// vcsim drops spec.config.annotation of a clone: write it again.
		vm := object.NewVirtualMachine(p.client.Client, ref)
		reconfigure, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{Annotation: annotation})
		if err != nil {
			return err
		}
		return reconfigure.Wait(ctx)
	})
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	p.instances[req.Group] = append(p.instances[req.Group], made...)
	return response{Ms: ms, Calls: p.counter.calls.Load() - calls, Count: len(made), Failures: failures}, nil
}

func (p *peer) teardown(ctx context.Context, req request) (response, error) {
	refs := p.instances[req.Group]
	delete(p.instances, req.Group)
	concurrency := max(req.Concurrency, 1)
	calls := p.counter.calls.Load()
	start := time.Now()
	failures := each(refs, concurrency, func(ref types.ManagedObjectReference) error {
		vm := object.NewVirtualMachine(p.client.Client, ref)
		if task, err := vm.PowerOff(ctx); err == nil {
			_ = task.Wait(ctx) // the VM may already be off: Destroy says if it is not
		}
		task, err := vm.Destroy(ctx)
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	return response{Ms: ms, Calls: p.counter.calls.Load() - calls, Count: len(refs) - len(failures), Failures: failures}, nil
}

// mirror is a group folder kept current from WaitForUpdatesEx (see mirrorDescribe).
type mirror struct {
	pc      *property.Collector
	version string
	vms     map[types.ManagedObjectReference]*mirroredVM
}

type mirroredVM struct {
	name, annotation, ip string
}

// apply sets the changed values; true when config.changeVersion changed (read the VM again).
func (vm *mirroredVM) apply(changes []types.PropertyChange) bool {
	versionChanged := false
	for _, ch := range changes {
		val, _ := ch.Val.(string)
		switch ch.Name {
		case "name":
			vm.name = val
		case "config.annotation":
			vm.annotation = val
		case "guest.ipAddress":
			vm.ip = val
		case "config.changeVersion":
			versionChanged = true
		}
	}
	return versionChanged
}

var mirrorPaths = []string{"name", "config.annotation", "guest.ipAddress"}

func (p *peer) newMirror(ctx context.Context, group string) (*mirror, error) {
	folder, err := p.groupFolder(ctx, group)
	if err != nil {
		return nil, err
	}
	pc, err := property.DefaultCollector(p.client.Client).Create(ctx)
	if err != nil {
		return nil, err
	}
	spec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj:  folder,
			Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				SelectionSpec: types.SelectionSpec{Name: "children"},
				Type:          "Folder",
				Path:          "childEntity",
				Skip:          types.NewBool(false),
			}},
		}},
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: append(append([]string{}, mirrorPaths...), "config.changeVersion")}},
	}
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
		return nil, err
	}
	return &mirror{pc: pc, vms: map[types.ManagedObjectReference]*mirroredVM{}}, nil
}

// drain applies every pending update (maxWaitSeconds 0, truncated answers continued).
func (m *mirror) drain(ctx context.Context, c *vim25.Client) error {
	zero := int32(0)
	var reread []types.ManagedObjectReference
	for {
		res, err := methods.WaitForUpdatesEx(ctx, c, &types.WaitForUpdatesEx{
			This:    m.pc.Reference(),
			Version: m.version,
			Options: &types.WaitOptions{MaxWaitSeconds: &zero},
		})
		if err != nil {
			return err
		}
		set := res.Returnval
		if set == nil {
			break
		}
		m.version = set.Version
		for _, fs := range set.FilterSet {
			for _, ou := range fs.ObjectSet {
				switch ou.Kind {
				case types.ObjectUpdateKindLeave:
					delete(m.vms, ou.Obj)
				case types.ObjectUpdateKindEnter:
					vm := &mirroredVM{}
					m.vms[ou.Obj] = vm
					vm.apply(ou.ChangeSet)
				case types.ObjectUpdateKindModify:
					if vm, ok := m.vms[ou.Obj]; ok && vm.apply(ou.ChangeSet) {
						reread = append(reread, ou.Obj)
					}
				}
			}
		}
		if set.Truncated == nil || !*set.Truncated {
			break
		}
	}
	if len(reread) > 0 {
		var vms []mo.VirtualMachine
		if err := property.DefaultCollector(c).Retrieve(ctx, reread, mirrorPaths, &vms); err != nil {
			return err
		}
		for i := range vms {
			vm, ok := m.vms[vms[i].Self]
			if !ok {
				continue
			}
			vm.name = vms[i].Name
			if vms[i].Config != nil {
				vm.annotation = vms[i].Config.Annotation
			}
			if vms[i].Guest != nil {
				vm.ip = vms[i].Guest.IpAddress
			}
		}
	}
	return nil
}

func (p *peer) mirrorDescribe(ctx context.Context, req request) (response, error) {
	calls := p.counter.calls.Load()
	start := time.Now()
	m, ok := p.mirrors[req.Group]
	if !ok {
		var err error
		if m, err = p.newMirror(ctx, req.Group); err != nil {
			return response{}, err
		}
		p.mirrors[req.Group] = m
	}
	if err := m.drain(ctx, p.client.Client); err != nil {
		return response{}, err
	}
	out := make([]description, 0, len(m.vms))
	for _, vm := range m.vms {
		tags, ok := groupTags(vm.annotation, req.Group)
		if !ok {
			continue
		}
		tags["guestIP"] = vm.ip
		out = append(out, description{ID: vm.name, Tags: tags})
	}
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	return response{Ms: ms, Calls: p.counter.calls.Load() - calls, Count: len(out)}, nil
}
