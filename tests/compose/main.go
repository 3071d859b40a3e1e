// compose-check: loads a compose file with compose-go, the loader of the
// Docker Compose CLI, the way `docker compose config` does: the file is
// validated against the Compose Specification schema, interpolated,
// normalized and checked for consistency (unknown services in depends_on,
// undefined volumes and networks, bad durations or port specs ...).
//
//	compose-check [-print] [-env SERVICE] [-var SERVICE:NAME]
//	              [-callsig -kafka-image I -livekit-image I] FILE
//
// Exit 0 and "ok: ..." when the file loads (and, with -callsig, matches
// what callsig's stack needs), 1 with the reason otherwise, 2 on a usage
// error. -print prints the normalized model as YAML; -env prints a service's
// environment as KEY=VALUE lines, -var one value, instead of "ok".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compose-check: "+format+"\n", args...)
	os.Exit(1)
}

func env(s types.ServiceConfig, name string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return *v
	}
	return ""
}

func service(p *types.Project, name string) types.ServiceConfig {
	s, err := p.GetService(name)
	if err != nil {
		fail("no service %q", name)
	}
	return s
}

// checkCallsig checks what callsig's stack needs beyond the schema.
func checkCallsig(p *types.Project, kafkaImage, livekitImage string) {
	if img := service(p, "kafka").Image; img != kafkaImage {
		fail("kafka image %s, the tests run %s", img, kafkaImage)
	}
	lk := service(p, "livekit")
	if lk.Image != livekitImage {
		fail("livekit image %s, the tests run %s", lk.Image, livekitImage)
	}

	mongo := service(p, "mongo")
	if !strings.Contains(" "+strings.Join(mongo.Command, " ")+" ", " --replSet rs0 ") {
		fail("mongo does not run as replica set rs0: %v", mongo.Command)
	}
	init := service(p, "mongo-init")
	if !strings.Contains(strings.Join(init.Command, " "), "rs.initiate(") {
		fail("mongo-init does not initiate the replica set")
	}

	cs := service(p, "callsig")
	if dep, ok := cs.DependsOn["mongo-init"]; !ok ||
		dep.Condition != types.ServiceConditionCompletedSuccessfully {
		fail("callsig must wait for mongo-init to complete successfully")
	}
	uri := env(cs, "CALLSIG_MONGODB_URI")
	for _, want := range []string{"replicaSet=rs0", "w=majority", "retryWrites=true"} {
		if !strings.Contains(uri, want) {
			fail("CALLSIG_MONGODB_URI %q lacks %s", uri, want)
		}
	}

	key, secret := env(cs, "CALLSIG_LIVEKIT_API_KEY"), env(cs, "CALLSIG_LIVEKIT_API_SECRET")
	if len(secret) < 32 {
		fail("CALLSIG_LIVEKIT_API_SECRET is shorter than 32 bytes")
	}
	var conf struct {
		Keys    map[string]string `yaml:"keys"`
		Webhook struct {
			APIKey string   `yaml:"api_key"`
			URLs   []string `yaml:"urls"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(env(lk, "LIVEKIT_CONFIG")), &conf); err != nil {
		fail("livekit LIVEKIT_CONFIG: %v", err)
	}
	if conf.Keys[key] != secret {
		fail("livekit's keys do not hold callsig's key %q with callsig's secret", key)
	}
	if conf.Webhook.APIKey != key {
		fail("livekit webhook.api_key %q is not callsig's key %q", conf.Webhook.APIKey, key)
	}
	const hook = "http://callsig:8080/webhooks/livekit"
	found := false
	for _, u := range conf.Webhook.URLs {
		found = found || u == hook
	}
	if !found {
		fail("livekit webhook.urls %v lacks %s", conf.Webhook.URLs, hook)
	}
}

func main() {
	printModel := flag.Bool("print", false, "print the normalized model as YAML")
	envOf := flag.String("env", "", "print this service's environment as KEY=VALUE lines")
	varOf := flag.String("var", "", "print the value of SERVICE:NAME in a service's environment")
	callsig := flag.Bool("callsig", false, "check what callsig's stack needs")
	kafkaImage := flag.String("kafka-image", "apache/kafka:4.1.1", "with -callsig: the Kafka image")
	livekitImage := flag.String("livekit-image", "livekit/livekit-server:v1.13.5", "with -callsig: the LiveKit image")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-print] [-env SERVICE] [-callsig] FILE")
		os.Exit(2)
	}
	file := flag.Arg(0)
	dir, _ := filepath.Abs(filepath.Dir(file))
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(dir),
		cli.WithName("callsig"),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail("%v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail("%v", err)
	}
	if *callsig {
		checkCallsig(project, *kafkaImage, *livekitImage)
	}
	if *printModel {
		out, err := project.MarshalYAML()
		if err != nil {
			fail("%v", err)
		}
		os.Stdout.Write(out)
	}
	if *varOf != "" {
		svc, name, ok := strings.Cut(*varOf, ":")
		v, found := service(project, svc).Environment[name]
		if !ok || !found || v == nil {
			fail("no %s", *varOf)
		}
		fmt.Print(*v)
		return
	}
	if *envOf != "" {
		s := service(project, *envOf)
		var lines []string
		for k := range s.Environment {
			lines = append(lines, k+"="+env(s, k))
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Println(l)
		}
		return
	}
	names := project.ServiceNames()
	sort.Strings(names)
	fmt.Printf("ok: %s loads with compose-go: services %s\n", file, strings.Join(names, ", "))
}
