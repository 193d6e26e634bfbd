//! The template engine against Go's and docker's behaviour.

use super::gofmt::go_float;
use super::*;

fn data() -> Value {
    serde_json::from_str(
        r#"{
            "Id": "0123456789abcdef",
            "Name": "/test01",
            "State": {"Status": "exited", "ExitCode": 3, "OOMKilled": false, "Pid": 0},
            "Config": {"Cmd": ["sh", "-c", "exit 3"], "Env": ["A=1", "PATH=/bin"],
                       "Labels": {"b": "2", "a": "1"}, "Tty": false, "Entrypoint": null},
            "HostConfig": {"Memory": 33554432, "NanoCpus": 1500000000},
            "Ratio": 0.5,
            "Mounts": []
        }"#,
    )
    .unwrap()
}

fn render(tmpl: &str) -> String {
    Template::parse("", tmpl)
        .unwrap_or_else(|e| panic!("parse {tmpl:?}: {e}"))
        .execute(&data())
        .unwrap_or_else(|e| panic!("exec {tmpl:?}: {e}"))
}

/// Each template renders `data()` as expected.
fn renders(cases: &[(&str, &str)]) {
    for (tmpl, want) in cases {
        assert_eq!(render(tmpl), *want, "{tmpl:?}");
    }
}

fn exec_err(tmpl: &str) -> String {
    Template::parse("", tmpl)
        .unwrap()
        .execute(&data())
        .unwrap_err()
        .0
}

fn parse_err(tmpl: &str) -> String {
    Template::parse("", tmpl).unwrap_err().0
}

/// Each template's error (by `error`) says what is expected.
fn errors_contain(error: fn(&str) -> String, cases: &[(&str, &str)]) {
    for (tmpl, want) in cases {
        let got = error(tmpl);
        assert!(got.contains(want), "{tmpl:?}: {got}");
    }
}

#[test]
fn fields_and_nested_fields() {
    renders(&[
        ("{{.Name}}", "/test01"),
        ("{{.State.ExitCode}}", "3"),
        ("{{.State.OOMKilled}}", "false"),
        ("{{.HostConfig.Memory}}", "33554432"),
        ("{{.Ratio}}", "0.5"),
        ("x={{.State.Status}} y={{.Config.Tty}}", "x=exited y=false"),
    ]);
}

#[test]
fn printing_like_go() {
    renders(&[
        ("{{.Config.Cmd}}", "[sh -c exit 3]"),
        ("{{.Config.Labels}}", "map[a:1 b:2]"),
        ("{{.Config.Entrypoint}}", "<nil>"),
        ("{{.Nope}}", "<no value>"),
    ]);
    assert_eq!(go_float(1e21), "1e+21");
    assert_eq!(go_float(33554432.0), "3.3554432e+07");
    assert_eq!(go_float(123456.0), "123456");
    assert_eq!(go_float(2.5), "2.5");
    assert_eq!(go_float(1e-7), "1e-07");
}

#[test]
fn json_keeps_field_order() {
    renders(&[
        (
            "{{json .State}}",
            r#"{"Status":"exited","ExitCode":3,"OOMKilled":false,"Pid":0}"#,
        ),
        ("{{.Config.Cmd | json}}", r#"["sh","-c","exit 3"]"#),
        ("{{json .Config.Entrypoint}}", "null"),
    ]);
    assert!(render("{{json .}}").starts_with(r#"{"Id":"0123456789abcdef","Name":"/test01""#));
    let v: Value = serde_json::from_str(r#"{"a":[1,{"b":"<x>"}],"c":{}}"#).unwrap();
    assert_eq!(v.to_json(), r#"{"a":[1,{"b":"<x>"}],"c":{}}"#);
}

#[test]
fn indented_json_like_go() {
    let v: Value = serde_json::from_str(r#"[{"a":1,"b":[],"c":{"d":[true]}}]"#).unwrap();
    assert_eq!(
        v.to_json_indent("", "    "),
        "[\n    {\n        \"a\": 1,\n        \"b\": [],\n        \"c\": {\n            \"d\": [\n                true\n            ]\n        }\n    }\n]"
    );
}

#[test]
fn range_over_lists_and_maps() {
    renders(&[
        ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][PATH=/bin]"),
        (
            "{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}",
            "0:sh 1:-c 2:exit 3 ",
        ),
        (
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
            "a=1;b=2;",
        ),
        ("{{range .Mounts}}x{{else}}none{{end}}", "none"),
        ("{{range .Config.Entrypoint}}x{{end}}", ""),
        (
            "{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}}{{end}}",
            "sh",
        ),
        (
            "{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}},{{end}}",
            "sh,exit 3,",
        ),
    ]);
}

#[test]
fn conditionals() {
    renders(&[
        ("{{if .State.OOMKilled}}oom{{else}}fine{{end}}", "fine"),
        (
            "{{if eq .State.ExitCode 0}}ok{{else if eq .State.ExitCode 3}}three{{else}}other{{end}}",
            "three",
        ),
        ("{{if and .Name .State.ExitCode}}y{{end}}", "y"),
        ("{{if or .State.Pid .Mounts}}y{{else}}n{{end}}", "n"),
        ("{{if not .Config.Tty}}no tty{{end}}", "no tty"),
        ("{{with .State}}{{.Status}}{{end}}", "exited"),
        ("{{with .Mounts}}x{{else}}empty{{end}}", "empty"),
        ("{{if gt .State.ExitCode 2}}big{{end}}", "big"),
        ("{{if lt .Ratio 1}}small{{end}}", "small"),
        ("{{if ne .State.Status \"running\"}}down{{end}}", "down"),
    ]);
}

#[test]
fn functions() {
    renders(&[
        ("{{index .Config.Labels \"a\"}}", "1"),
        ("{{index .Config.Cmd 2}}", "exit 3"),
        ("{{len .Config.Env}}", "2"),
        ("{{len .Name}}", "7"),
        ("{{join .Config.Cmd \" \"}}", "sh -c exit 3"),
        ("{{upper .State.Status}}", "EXITED"),
        ("{{lower \"ABC\"}}", "abc"),
        ("{{title \"hello big world\"}}", "Hello Big World"),
        ("{{println .Name}}", "/test01\n"),
        ("{{println .Name .State.ExitCode}}", "/test01 3\n"),
        ("{{print 1 2 \"a\" 3}}", "1 2a3"),
        ("{{printf \"%s=%d\" .Name .State.ExitCode}}", "/test01=3"),
        ("{{printf \"%-8s|\" .State.Status}}", "exited  |"),
        (
            "{{printf \"%5d|%05d|%.2f|%q|%v|%t\" 42 42 .Ratio \"x\" .Config.Cmd true}}",
            "   42|00042|0.50|\"x\"|[sh -c exit 3]|true",
        ),
        ("{{printf \"%d%%\" 5}}", "5%"),
        ("{{printf \"%s\"}}", "%!s(MISSING)"),
        ("{{truncate .Id 12}}", "0123456789ab"),
        ("{{pad .State.Status 1 2}}|", " exited  |"),
        ("{{split \"a,b,c\" \",\"}}", "[a b c]"),
        ("{{index (split \"a,b,c\" \",\") 1}}", "b"),
    ]);
}

#[test]
fn pipelines_and_parens() {
    renders(&[
        ("{{.State.Status | upper}}", "EXITED"),
        ("{{.Name | printf \"<%s>\" | upper}}", "</TEST01>"),
        // Go passes the piped value as the LAST argument.
        ("{{\"+\" | join .Config.Cmd}}", "sh+-c+exit 3"),
        ("{{(index .Config.Cmd 0) | upper}}", "SH"),
        ("{{(.State).Status}}", "exited"),
    ]);
}

#[test]
fn variables() {
    renders(&[
        ("{{$n := .Name}}{{$n}}{{$n}}", "/test01/test01"),
        ("{{range .Config.Env}}{{$.Name}}{{end}}", "/test01/test01"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ]);
}

#[test]
fn trim_markers_and_comments() {
    renders(&[
        ("a  {{- .State.Status -}}  b", "aexitedb"),
        ("a {{- /* note */ -}} b", "ab"),
        ("a{{/* note */}}b", "ab"),
        (
            "{{range .Config.Env -}}\n  {{.}}\n{{- end}}",
            "A=1PATH=/bin",
        ),
        ("{{-3}}", "-3"),
    ]);
}

#[test]
fn literals() {
    renders(&[
        ("{{\"a\\tb\"}}", "a\tb"),
        ("{{`raw\\t`}}", "raw\\t"),
        ("{{0x10}} {{1.5}} {{'a'}} {{true}}", "16 1.5 97 true"),
    ]);
}

#[test]
fn struct_data_rejects_unknown_fields() {
    let data = Value::Struct(
        "*formatter.ContainerContext".into(),
        vec![
            ("Names".into(), Value::str("web")),
            (
                "Labels".into(),
                Value::Map(vec![("k".into(), Value::str("v"))]),
            ),
        ],
    );
    let t = Template::parse("", "{{.Names}} {{.Labels.k}} {{.Labels \"k\"}}").unwrap();
    assert_eq!(t.execute(&data).unwrap(), "web v v");
    let err = Template::parse("", "{{.Foo}}")
        .unwrap()
        .execute(&data)
        .unwrap_err();
    assert_eq!(
        err.0,
        "template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext"
    );
}

#[test]
fn strict_maps_fail_on_missing_keys() {
    let t = Template::parse("", "{{.State.Nope}}").unwrap();
    assert_eq!(
        t.execute_strict(&data()).unwrap_err().0,
        "template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"Nope\""
    );
    let t = Template::parse("", "{{.State.ExitCode}} {{index .Config.Labels \"zz\"}}").unwrap();
    assert_eq!(t.execute_strict(&data()).unwrap(), "3 <no value>");
}

#[test]
fn header_pass_keeps_titles() {
    let header = Value::Map(vec![
        ("Names".into(), Value::str("NAMES")),
        ("ID".into(), Value::str("CONTAINER ID")),
    ]);
    let t = Template::parse("", "{{.ID}}\t{{upper .Names}}\t{{json .ID}}").unwrap();
    assert_eq!(
        t.execute_header(&header).unwrap(),
        "CONTAINER ID\tNAMES\tCONTAINER ID"
    );
}

#[test]
fn exec_errors_name_the_position() {
    assert_eq!(
        exec_err("ab\n {{.State.Pid.X}}"),
        "template: :2:13: executing \"\" at <.State.Pid.X>: can't evaluate field X in type int"
    );
    errors_contain(
        exec_err,
        &[
            ("{{.Nope.X}}", "nil pointer evaluating interface {}.X"),
            (
                "{{index .Config.Cmd 9}}",
                "error calling index: index out of range: 9",
            ),
            ("{{len 3}}", "error calling len: len of type int"),
            ("{{.Name 1}}", "can't give argument to non-function .Name"),
            ("{{not 1 2}}", "wrong number of args for not: want 1 got 2"),
            ("{{eq .Name 1}}", "incompatible types for comparison"),
            ("{{range .Name}}{{end}}", "range can't iterate over /test01"),
        ],
    );
}

#[test]
fn parse_errors_read_like_go() {
    for (tmpl, want) in [
        ("{{.Name}", "template: :1: unexpected \"}\" in operand"),
        (
            "{{foo .Name}}",
            "template: :1: function \"foo\" not defined",
        ),
        ("{{.Name", "template: :1: unclosed action"),
        ("{{if .Name}}x", "template: :1: unexpected EOF"),
        ("x{{end}}", "template: :1: unexpected {{end}}"),
        ("{{}}", "template: :1: missing value for command"),
        ("a\n{{\"x}}", "template: :2: unterminated quoted string"),
    ] {
        assert_eq!(parse_err(tmpl), want, "{tmpl:?}");
    }
    errors_contain(
        parse_err,
        &[
            ("{{define \"x\"}}{{end}}", "not supported"),
            ("{{break}}", "outside {{range}}"),
            ("{{(.Name}}", "unclosed left paren"),
            ("{{/* x }}", "unclosed comment"),
        ],
    );
}

#[test]
fn serde_values_keep_order() {
    #[derive(serde::Serialize)]
    struct S {
        zeta: u32,
        alpha: Option<String>,
        big: u64,
    }
    let v = Value::from_serialize(&S {
        zeta: 1,
        alpha: None,
        big: u64::MAX,
    })
    .unwrap();
    assert_eq!(
        v.to_json(),
        r#"{"zeta":1,"alpha":null,"big":18446744073709552000}"#
    );
    assert_eq!(Value::Float(1e21).to_json(), "1e+21");
    assert_eq!(Value::Float(0.25).to_json(), "0.25");
}
