// Command vcsim-launcher starts govmomi's vCenter simulator for this project's tests.
//
// Upstream's vcsim command became a module of its own with a `replace ../` directive in
// govmomi v0.47, so `go install github.com/vmware/govmomi/vcsim@vX` only works up to v0.46.3,
// whose simulator cannot change the session idle timeout at run time. This launcher runs the
// same simulator package at the pinned version and accepts the subset of vcsim's flags the
// tests use, so any stock vcsim binary (env VCSIM) can stand in for it.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

// setTaskDelays delays task bodies by task name (e.g. CloneVm); API calls are delayed by method
// name through the model. taskdelay.go sets it; Debian's govmomi 0.24 has no TaskDelay, so the
// Debian build leaves that file out and task delays are ignored there.
var setTaskDelays = func(map[string]int) {}

func main() {
	vpx := simulator.VPX()
	flag.IntVar(&vpx.Datacenter, "dc", vpx.Datacenter, "number of datacenters")
	flag.IntVar(&vpx.Cluster, "cluster", vpx.Cluster, "number of clusters per datacenter")
	flag.IntVar(&vpx.ClusterHost, "host", vpx.ClusterHost, "number of hosts per cluster")
	flag.IntVar(&vpx.Host, "standalone-host", vpx.Host, "number of stand-alone hosts per datacenter")
	flag.IntVar(&vpx.Datastore, "ds", vpx.Datastore, "number of local datastores")
	flag.IntVar(&vpx.Machine, "vm", vpx.Machine, "number of virtual machines per resource pool")
	flag.IntVar(&vpx.Pool, "pool", vpx.Pool, "number of resource pools per compute resource")
	flag.IntVar(&vpx.Folder, "folder", vpx.Folder, "number of folders")
	flag.IntVar(&vpx.DelayConfig.Delay, "delay", 0, "response delay of every method, in ms")
	esx := flag.Bool("esx", false, "simulate a stand-alone ESXi host instead of vCenter")
	useTLS := flag.Bool("tls", true, "serve HTTPS with a self-signed certificate")
	listen := flag.String("l", "127.0.0.1:8989", "listen address (port 0 picks a free port)")
	user := flag.String("username", "", "the only user name accepted (any when empty)")
	pass := flag.String("password", "", "the only password accepted (any when empty)")
	stdinExit := flag.Bool("stdinexit", false, "exit when standard input closes or a byte arrives")
	methodDelay := flag.String("method-delay", "", "delays per method or task name, ms: 'CloneVm:3000,PowerOnVM_Task:100'")
	flag.Parse()

	if *methodDelay != "" {
		delays := map[string]int{}
		for _, pair := range strings.Split(*methodDelay, ",") {
			name, ms, found := strings.Cut(strings.TrimSpace(pair), ":")
			n, err := strconv.Atoi(ms)
			if !found || err != nil {
				log.Fatalf("-method-delay: %q is not name:milliseconds", pair)
			}
			delays[name] = n
		}
		vpx.DelayConfig.MethodDelay = delays
		setTaskDelays(delays)
	}

	model := vpx
	if *esx {
		model = simulator.ESX()
		model.Datastore = vpx.Datastore
		model.Machine = vpx.Machine
		model.DelayConfig.Delay = vpx.DelayConfig.Delay
	}
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	u := &url.URL{Host: *listen}
	if *user != "" {
		u.User = url.UserPassword(*user, *pass)
	}
	model.Service.Listen = u
	if *useTLS {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()
	defer server.Close()

	// Same line as upstream vcsim prints, so launchers parse either binary the same way.
	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", server.URL, os.Getpid())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if *stdinExit {
		go func() {
			_, _ = os.Stdin.Read(make([]byte, 1))
			stop <- syscall.SIGTERM
		}()
	}
	<-stop
}
