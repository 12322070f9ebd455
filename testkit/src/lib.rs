//! Real components for tests, started on loopback and stopped on drop: `moto_server` for the AWS
//! APIs and etcd + kube-apiserver (built by `scripts/build-kube-apiserver.sh`) for Kubernetes.

pub mod apiserver;
pub mod dataplane;
pub mod dns;
pub mod faults;
pub mod https;
pub mod load;
pub mod logs;
pub mod moto;
pub mod pods;
pub mod secrets;
