// upstream-check: a test-only decoder/encoder for the OpenIM v3 schema as
// upstream publishes it (github.com/openimsdk/protocol rtc/rtc.proto and
// sdkws/sdkws.proto, compiled with protoc into a descriptor set by
// scripts/upstream-schema.sh).
//
//	upstream-check DESC decode FULL.NAME HEX  -> the message as JSON
//	upstream-check DESC encode FULL.NAME JSON -> the message as hex
//
// decode fails (exit 3) when the bytes hold a field the upstream schema
// does not know, at any depth: a wrong field number or wire type.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "upstream-check: "+format+"\n", args...)
	os.Exit(code)
}

// unknown reports the path of the first unknown field in m, or "".
func unknown(m protoreflect.Message, path string) string {
	if len(m.GetUnknown()) > 0 {
		return path + " (" + string(m.Descriptor().FullName()) + ")"
	}
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				found = unknown(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					found = unknown(mv.Message(), p+"["+k.String()+"]")
				}
				return found == ""
			})
		default:
			found = unknown(v.Message(), p)
		}
		return found == ""
	})
	return found
}

func main() {
	if len(os.Args) != 5 {
		fail(2, "usage: upstream-check DESC decode|encode FULL.NAME HEX|JSON")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(2, "%v", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		fail(2, "descriptor set: %v", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		fail(2, "descriptor set: %v", err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(os.Args[3]))
	if err != nil {
		fail(2, "%s: %v", os.Args[3], err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		fail(2, "%s is not a message", os.Args[3])
	}
	msg := dynamicpb.NewMessage(md)
	switch os.Args[2] {
	case "decode":
		b, err := hex.DecodeString(os.Args[4])
		if err != nil {
			fail(2, "hex: %v", err)
		}
		if err := proto.Unmarshal(b, msg); err != nil {
			fail(3, "%s does not decode: %v", os.Args[3], err)
		}
		if p := unknown(msg, string(md.Name())); p != "" {
			fail(3, "field unknown to the upstream schema in %s", p)
		}
		out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
		if err != nil {
			fail(3, "json: %v", err)
		}
		// protojson varies its spacing on purpose; tests match on
		// compact text.
		var compact bytes.Buffer
		if err := json.Compact(&compact, out); err != nil {
			fail(3, "json: %v", err)
		}
		fmt.Println(compact.String())
	case "encode":
		if err := protojson.Unmarshal([]byte(os.Args[4]), msg); err != nil {
			fail(2, "json: %v", err)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			fail(2, "%v", err)
		}
		fmt.Println(hex.EncodeToString(b))
	default:
		fail(2, "unknown mode %s", os.Args[2])
	}
}
