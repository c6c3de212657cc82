// compose-check validates a Compose file the way `docker compose config` would, without a
// Docker engine: it loads the file with compose-go (the reference parser of the Compose
// specification, the one Docker Compose itself uses) with JSON-schema validation,
// interpolation, normalization and the consistency checks on, and fails with the loader's
// message. On top of the loader it checks what only fails at `docker compose up` time:
//
//   - a bind-mounted host path, build context, Dockerfile or env_file that does not exist
//     (Docker would silently create an empty directory for a missing bind source);
//   - a `depends_on: {condition: service_healthy}` on a service without a healthcheck;
//   - with the replica counts of -scale / -scale-marked (as `docker compose up --scale` sets
//     them): a service of several replicas that publishes a fixed host port or sets
//     container_name, and a host port two services publish (scale.go).
//
// Usage: compose-check [-q | -print] [-profile P ...] [-scale SERVICE=N ...] [-scale-marked N]
// [compose-file ...]   (default: docker-compose.yml)
// -print writes the resolved model (anchors merged, variables interpolated) as YAML.
// -profile enables a profile's services ("*": every profile), like `docker compose --profile`.
// -scale-marked N gives every service marked `x-oms-scalable: true` at least N replicas.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	quiet := flag.Bool("q", false, "print nothing on success")
	printModel := flag.Bool("print", false, "print the resolved project as YAML (like `docker compose config`)")
	name := flag.String("project-name", "", "project name (default: the directory name, as docker compose does)")
	var profiles listFlag
	flag.Var(&profiles, "profile", "enable the services of this profile (repeatable; \"*\": all), like docker compose --profile")
	scales := scaleFlag{}
	flag.Var(scales, "scale", "SERVICE=N: check the file with N replicas of SERVICE (repeatable), like docker compose up --scale")
	marked := flag.Int("scale-marked", 0, "check with at least N replicas of every service marked "+ScalableExtension+": true")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s [-q | -print] [-project-name NAME] [-profile P] [-scale SERVICE=N] [-scale-marked N] [compose-file ...]\n",
			os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = []string{"docker-compose.yml"}
	}
	project, err := load(context.Background(), files, *name, profiles)
	if err == nil {
		err = applyScale(project, scales, *marked)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", strings.Join(files, ", "), err)
		os.Exit(1)
	}
	if problems := append(runtimeProblems(project), scaleProblems(project)...); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "compose-check: %s: %s\n", strings.Join(files, ", "), p)
		}
		os.Exit(1)
	}
	if *printModel {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		return
	}
	if !*quiet {
		fmt.Printf("%s: valid (project %q; services: %s)\n",
			strings.Join(files, ", "), project.Name, strings.Join(replicaCounts(project), ", "))
	}
}

// replicaCounts names the enabled services, with "×N" after those checked with N > 1 replicas.
func replicaCounts(project *types.Project) []string {
	names := project.ServiceNames()
	sort.Strings(names)
	for i, name := range names {
		service := project.Services[name]
		if n := service.GetScale(); n > 1 {
			names[i] = fmt.Sprintf("%s×%d", name, n)
		}
	}
	return names
}

func load(ctx context.Context, files []string, name string, profiles []string) (*types.Project, error) {
	fns := []cli.ProjectOptionsFn{
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	}
	if name != "" {
		fns = append(fns, cli.WithName(name))
	}
	if len(profiles) > 0 {
		fns = append(fns, cli.WithProfiles(profiles))
	}
	options, err := cli.NewProjectOptions(files, fns...)
	if err != nil {
		return nil, err
	}
	// Schema validation is the loader's default (loader.Options.SkipValidation stays false).
	return options.LoadProject(ctx)
}

// runtimeProblems reports what the loader accepts but `docker compose up` would trip over.
func runtimeProblems(project *types.Project) []string {
	var problems []string
	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		service := project.Services[name]
		if build := service.Build; build != nil {
			if !isRemote(build.Context) {
				if err := mustExist(build.Context, true); err != nil {
					problems = append(problems, fmt.Sprintf("service %q: build context: %v", name, err))
				} else if build.DockerfileInline == "" {
					dockerfile := build.Dockerfile
					if dockerfile == "" {
						dockerfile = "Dockerfile"
					}
					if !filepath.IsAbs(dockerfile) {
						dockerfile = filepath.Join(build.Context, dockerfile)
					}
					if err := mustExist(dockerfile, false); err != nil {
						problems = append(problems, fmt.Sprintf("service %q: dockerfile: %v", name, err))
					}
				}
			}
		}
		for _, volume := range service.Volumes {
			if volume.Type != types.VolumeTypeBind {
				continue
			}
			if volume.Bind != nil && !volume.Bind.CreateHostPath {
				continue // long syntax with create_host_path: false: Docker itself refuses a missing path
			}
			if err := mustExist(volume.Source, false); err != nil {
				problems = append(problems, fmt.Sprintf("service %q: bind mount %s: %v", name, volume.Target, err))
			}
		}
		for _, file := range service.EnvFiles {
			if file.Required {
				if err := mustExist(file.Path, false); err != nil {
					problems = append(problems, fmt.Sprintf("service %q: env_file: %v", name, err))
				}
			}
		}
		for dependency, condition := range service.DependsOn {
			if condition.Condition != types.ServiceConditionHealthy {
				continue
			}
			target, ok := project.Services[dependency]
			if !ok {
				continue // the loader's consistency check reports unknown services
			}
			if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
				problems = append(problems, fmt.Sprintf(
					"service %q waits for %q to be healthy, but %q has no healthcheck", name, dependency, dependency))
			}
		}
	}
	return problems
}

func isRemote(context string) bool {
	for _, prefix := range []string{"http://", "https://", "git://", "git@", "github.com/"} {
		if strings.HasPrefix(context, prefix) {
			return true
		}
	}
	return false
}

func mustExist(path string, dir bool) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return err
	}
	if dir && !info.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}
