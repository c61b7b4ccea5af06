package main

import "github.com/vmware/govmomi/simulator"

func init() {
	setTaskDelays = func(delays map[string]int) { simulator.TaskDelay.MethodDelay = delays }
}
