//! The runtime's side of one invocation: the `CNI_*` environment variables and the pod named
//! in `CNI_ARGS` (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_UID`, as the kubelet's runtime
//! passes them).

use rscni_types::error::Error;

/// What the runtime asked for, from the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the pod's network namespace (absent on DEL when the sandbox is gone).
    pub netns: Option<String>,
    /// The pod, from `CNI_ARGS`.
    pub pod: PodRef,
}

/// The pod a sandbox belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    /// `K8S_POD_UID`; older runtimes may leave it out.
    pub uid: Option<String>,
}

/// Reads the invocation from `var` (`std::env::var` in the binary, a map in tests). `netns` is
/// required for ADD and CHECK, optional for DEL.
pub fn read(
    var: impl Fn(&str) -> Option<String>,
    netns_required: bool,
) -> Result<Invocation, Error> {
    let container_id = required(&var, "CNI_CONTAINERID")?;
    let netns = var("CNI_NETNS").filter(|v| !v.is_empty());
    if netns_required && netns.is_none() {
        return Err(Error::missing_env(&["CNI_NETNS"]));
    }
    let args = var("CNI_ARGS").unwrap_or_default();
    let pod = pod_from_args(&args)?;
    Ok(Invocation {
        container_id,
        netns,
        pod,
    })
}

/// `CNI_COMMAND`, required.
pub fn command(var: impl Fn(&str) -> Option<String>) -> Result<String, Error> {
    required(&var, "CNI_COMMAND")
}

fn required(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<String, Error> {
    var(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::missing_env(&[name]))
}

/// The pod in `CNI_ARGS` (`K1=V1;K2=V2`): namespace and name are required, the uid optional.
pub fn pod_from_args(args: &str) -> Result<PodRef, Error> {
    let mut pod = PodRef::default();
    for pair in args.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::InvalidEnvValue(format!("CNI_ARGS: `{pair}` is not KEY=VALUE"))
        })?;
        match key {
            "K8S_POD_NAMESPACE" => pod.namespace = value.to_string(),
            "K8S_POD_NAME" => pod.name = value.to_string(),
            "K8S_POD_UID" if !value.is_empty() => pod.uid = Some(value.to_string()),
            _ => {}
        }
    }
    for (field, value) in [
        ("K8S_POD_NAMESPACE", &pod.namespace),
        ("K8S_POD_NAME", &pod.name),
    ] {
        if value.is_empty() {
            return Err(Error::InvalidEnvValue(format!(
                "CNI_ARGS has no {field} (got {args:?}): mesh-cni serves Kubernetes pods only"
            )));
        }
    }
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const ARGS: &str = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-0;\
                        K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1234-5678";

    #[test]
    fn reads_the_pod_from_cni_args() {
        let env = vars(&[
            ("CNI_CONTAINERID", "abc"),
            ("CNI_NETNS", "/var/run/netns/x"),
            ("CNI_ARGS", ARGS),
        ]);
        let got = read(env, true).unwrap();
        assert_eq!(got.container_id, "abc");
        assert_eq!(got.netns.as_deref(), Some("/var/run/netns/x"));
        assert_eq!(
            got.pod,
            PodRef {
                namespace: "shop".into(),
                name: "cart-0".into(),
                uid: Some("1234-5678".into())
            }
        );
    }

    #[test]
    fn names_the_missing_variable() {
        let env = vars(&[("CNI_CONTAINERID", "abc"), ("CNI_ARGS", ARGS)]);
        let err = read(env, true).unwrap_err();
        assert!(err.details().contains("CNI_NETNS"), "{err:?}");
        let env = vars(&[("CNI_NETNS", "/x"), ("CNI_ARGS", ARGS)]);
        assert!(read(env, true)
            .unwrap_err()
            .details()
            .contains("CNI_CONTAINERID"));
        assert!(command(vars(&[]))
            .unwrap_err()
            .details()
            .contains("CNI_COMMAND"));
    }

    #[test]
    fn del_needs_no_netns() {
        let env = vars(&[("CNI_CONTAINERID", "abc"), ("CNI_ARGS", ARGS)]);
        assert_eq!(read(env, false).unwrap().netns, None);
    }

    #[test]
    fn names_the_missing_pod_field() {
        let err = pod_from_args("K8S_POD_NAMESPACE=shop").unwrap_err();
        assert!(err.details().contains("K8S_POD_NAME"), "{err:?}");
        let err = pod_from_args("K8S_POD_NAME=cart").unwrap_err();
        assert!(err.details().contains("K8S_POD_NAMESPACE"), "{err:?}");
        let err = pod_from_args("K8S_POD_NAME").unwrap_err();
        assert!(err.details().contains("not KEY=VALUE"), "{err:?}");
    }

    #[test]
    fn the_uid_is_optional() {
        let pod = pod_from_args("K8S_POD_NAMESPACE=a;K8S_POD_NAME=b;K8S_POD_UID=").unwrap();
        assert_eq!(pod.uid, None);
    }
}
