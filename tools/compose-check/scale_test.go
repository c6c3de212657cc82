package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// A service marked scalable beside a gateway publishing the one port, and a debug forwarder.
const scalableFile = `
name: t
services:
  order:
    image: alpine
    x-oms-scalable: true
  gateway:
    image: alpine
    ports: ["127.0.0.1:8080:8080"]
  order-debug:
    image: alpine
    profiles: [debug]
    ports: ["127.0.0.1:50051:50051"]
`

func loadText(t *testing.T, text string, profiles ...string) *projectUnderTest {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	project, err := load(context.Background(), []string{file}, "", profiles)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return &projectUnderTest{t: t, project: project}
}

func TestScaledFileWithoutFixedPortsPasses(t *testing.T) {
	p := loadText(t, scalableFile, "*")
	p.scale(map[string]int{"order": 3}, 2)
	if got := scaleOf(p.project, "order"); got != 3 {
		t.Fatalf("order scale = %d, want 3 (explicit -scale wins over -scale-marked)", got)
	}
	p.wantProblems()
}

func TestMarkedServicesAreScaled(t *testing.T) {
	p := loadText(t, scalableFile)
	p.scale(nil, 2)
	if got := scaleOf(p.project, "order"); got != 2 {
		t.Fatalf("order scale = %d, want 2", got)
	}
	if got := scaleOf(p.project, "gateway"); got != 1 {
		t.Fatalf("gateway scale = %d, want 1 (not marked)", got)
	}
}

func TestScaledServiceWithFixedHostPortFails(t *testing.T) {
	p := loadText(t, strings.Replace(scalableFile, "x-oms-scalable: true", `x-oms-scalable: true
    ports: ["127.0.0.1:9101:9101"]`, 1))
	p.scale(nil, 2)
	p.wantProblems(`service "order": 2 replicas but it publishes the fixed host port 127.0.0.1:9101->9101`)
}

func TestScaledServiceWithEphemeralHostPortPasses(t *testing.T) {
	p := loadText(t, strings.Replace(scalableFile, "x-oms-scalable: true", `x-oms-scalable: true
    ports: ["127.0.0.1::9101", "9200-9209:9101"]`, 1))
	p.scale(nil, 3)
	p.wantProblems()
}

func TestScaledServiceWithContainerNameFails(t *testing.T) {
	p := loadText(t, strings.Replace(scalableFile, "x-oms-scalable: true", `x-oms-scalable: true
    container_name: the-order`, 1))
	p.scale(map[string]int{"order": 2}, 0)
	p.wantProblems(`service "order": 2 replicas but container_name "the-order"`)
}

func TestScalingTheGatewayFails(t *testing.T) {
	p := loadText(t, scalableFile)
	p.scale(map[string]int{"gateway": 2}, 0)
	p.wantProblems(`service "gateway": 2 replicas but it publishes the fixed host port 127.0.0.1:8080->8080`)
}

func TestHostPortPublishedByTwoServicesFails(t *testing.T) {
	p := loadText(t, strings.Replace(scalableFile, `ports: ["127.0.0.1:8080:8080"]`,
		`ports: ["127.0.0.1:8080:8080", "50051:50051"]`, 1), "debug")
	p.wantProblems(`services "gateway" and "order-debug" both publish host port 127.0.0.1:50051->50051`)
}

func TestProfilesAreOffUnlessAsked(t *testing.T) {
	if _, ok := loadText(t, scalableFile).project.Services["order-debug"]; ok {
		t.Fatal("order-debug enabled without its profile")
	}
	if _, ok := loadText(t, scalableFile, "debug").project.Services["order-debug"]; !ok {
		t.Fatal("order-debug not enabled by -profile debug")
	}
}

func TestScaleOfAnUnknownServiceFails(t *testing.T) {
	p := loadText(t, scalableFile)
	err := applyScale(p.project, map[string]int{"order-debug": 2}, 0)
	if err == nil || !strings.Contains(err.Error(), "-scale order-debug: no such service") {
		t.Fatalf("err = %v, want no such service (its profile is off)", err)
	}
}

func TestScaleFlagParses(t *testing.T) {
	s := scaleFlag{}
	for _, bad := range []string{"order", "=2", "order=x", "order=-1"} {
		if s.Set(bad) == nil {
			t.Errorf("-scale %q accepted", bad)
		}
	}
	if err := s.Set("order=3"); err != nil || s["order"] != 3 {
		t.Fatalf("-scale order=3: %v, %v", err, s)
	}
}

// TestTheProjectsComposeFileScales is `make check-compose`'s scaled check on the real file.
func TestTheProjectsComposeFileScales(t *testing.T) {
	t.Setenv("OMS_AUTH_JWT_SECRET", "compose-check-placeholder-secret-0123456789abcdef")
	t.Setenv("OMS_PAGE_TOKEN_KEY", "compose-check-placeholder-page-token-key-0123456789")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	project, err := load(context.Background(), []string{filepath.Join(root, "docker-compose.yml")}, "", []string{"*"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	p := &projectUnderTest{t: t, project: project}
	p.scale(map[string]int{"order": 3, "inventory": 2}, 2)
	for _, name := range []string{"order", "inventory", "notify"} {
		if !isScalable(project.Services[name]) {
			t.Errorf("service %q is not marked %s", name, ScalableExtension)
		}
	}
	p.wantProblems()
	if problems := runtimeProblems(project); len(problems) > 0 {
		t.Fatalf("runtime problems: %v", problems)
	}
}

type projectUnderTest struct {
	t       *testing.T
	project *types.Project
}

func (p *projectUnderTest) scale(explicit map[string]int, marked int) {
	p.t.Helper()
	if err := applyScale(p.project, explicit, marked); err != nil {
		p.t.Fatalf("applyScale: %v", err)
	}
}

// wantProblems: scaleProblems reports exactly one problem containing each text, in order.
func (p *projectUnderTest) wantProblems(texts ...string) {
	p.t.Helper()
	problems := scaleProblems(p.project)
	if len(problems) != len(texts) {
		p.t.Fatalf("problems = %q, want %d matching %q", problems, len(texts), texts)
	}
	for i, text := range texts {
		if !strings.Contains(problems[i], text) {
			p.t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], text)
		}
	}
}

func scaleOf(project *types.Project, name string) int {
	service := project.Services[name]
	return service.GetScale()
}
