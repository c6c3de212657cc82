package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ScalableExtension marks a service that may run as several replicas
// (`docker compose up --scale NAME=N`); -scale-marked scales every service carrying it.
const ScalableExtension = "x-oms-scalable"

// scaleFlag collects -scale NAME=N, as `docker compose up --scale` takes it.
type scaleFlag map[string]int

func (s scaleFlag) String() string {
	parts := make([]string, 0, len(s))
	for name, n := range s {
		parts = append(parts, fmt.Sprintf("%s=%d", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (s scaleFlag) Set(value string) error {
	name, count, ok := strings.Cut(value, "=")
	n, err := strconv.Atoi(count)
	if !ok || name == "" || err != nil || n < 0 {
		return fmt.Errorf("want SERVICE=N, got %q", value)
	}
	s[name] = n
	return nil
}

// listFlag collects a repeated string flag (-profile a -profile b).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// isScalable reports whether the service carries `x-oms-scalable: true`.
func isScalable(service types.ServiceConfig) bool {
	marked, _ := service.Extensions[ScalableExtension].(bool)
	return marked
}

// applyScale sets the replicas as `up --scale` would: explicit -scale values first, then at
// least `marked` replicas for every service marked scalable (0: none). A -scale naming no
// enabled service is an error, as it is for docker compose.
func applyScale(project *types.Project, explicit map[string]int, marked int) error {
	names := make([]string, 0, len(explicit))
	for name := range explicit {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		service, ok := project.Services[name]
		if !ok {
			return fmt.Errorf("-scale %s: no such service (or its profile is not enabled)", name)
		}
		service.SetScale(explicit[name])
		project.Services[name] = service
	}
	if marked > 0 {
		for name, service := range project.Services {
			if isScalable(service) && service.GetScale() < marked {
				service.SetScale(marked)
				project.Services[name] = service
			}
		}
	}
	return nil
}

// fixedHostPort is the single host port an entry binds ("" or a range "8000-8010" is not fixed:
// Docker picks a free one per replica).
func fixedHostPort(port types.ServicePortConfig) (int, bool) {
	n, err := strconv.Atoi(port.Published)
	return n, err == nil && n > 0
}

// scaleProblems reports what `up` would refuse or fail on with these replica counts: a service
// with more than one replica that publishes a fixed host port (the second replica cannot bind
// it) or sets container_name (names are unique), and a host port that two services publish.
func scaleProblems(project *types.Project) []string {
	var problems []string
	names := project.ServiceNames()
	sort.Strings(names)
	type binding struct {
		service string
		ip      string
	}
	bound := map[string][]binding{} // "tcp/8080" -> who binds it on which address
	for _, name := range names {
		service := project.Services[name]
		replicas := service.GetScale()
		if replicas > 1 && service.ContainerName != "" {
			problems = append(problems, fmt.Sprintf(
				"service %q: %d replicas but container_name %q (a container name is unique)",
				name, replicas, service.ContainerName))
		}
		for _, port := range service.Ports {
			host, fixed := fixedHostPort(port)
			if !fixed {
				continue
			}
			if replicas > 1 {
				problems = append(problems, fmt.Sprintf(
					"service %q: %d replicas but it publishes the fixed host port %s (only one replica can bind it)",
					name, replicas, describe(port)))
			}
			protocol := port.Protocol
			if protocol == "" {
				protocol = "tcp"
			}
			key := fmt.Sprintf("%s/%d", protocol, host)
			for _, other := range bound[key] {
				if other.service != name && overlaps(other.ip, port.HostIP) {
					problems = append(problems, fmt.Sprintf(
						"services %q and %q both publish host port %s", other.service, name, describe(port)))
				}
			}
			bound[key] = append(bound[key], binding{name, port.HostIP})
		}
	}
	return problems
}

// overlaps: two bindings of one port conflict on the same address or when either is on all.
func overlaps(a, b string) bool {
	all := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return a == b || all(a) || all(b)
}

func describe(port types.ServicePortConfig) string {
	if port.HostIP != "" {
		return fmt.Sprintf("%s:%s->%d", port.HostIP, port.Published, port.Target)
	}
	return fmt.Sprintf("%s->%d", port.Published, port.Target)
}
