//! `services:` containers: one bridge network per job, each service on it under its id, ports
//! published on this machine's loopback.
//!
//! Where the job reaches them depends on where it runs, as on GitHub. A job in a `container:`
//! joins the network and reaches a service by its id and container port. A job without one runs
//! "on the runner machine": gantry keeps its container on the host network (so `localhost` is
//! this machine's, and gantry's registry and runner services on 127.0.0.1 stay reachable) and
//! the job reaches a service at `localhost:<published port>`, the pattern GitHub documents.
//! Service ids still resolve there: they are written into the job container's `/etc/hosts` with
//! each service's address on the network, which this machine routes to.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding,
};
use gantry_runner::executor::{ContainerInfo, ContainerSpec, ExecutorError};
use indexmap::IndexMap;

use crate::docker::{Setup, env_list, object_name};
use crate::engine_error;
use crate::options::ContainerOptions;

/// Published service ports listen here unless the mapping names an address: reachable from
/// this machine (and host-network job containers), not from the rest of the network.
const LOOPBACK: &str = "127.0.0.1";

/// The services of one job, started and healthy.
#[derive(Debug, Default)]
pub(crate) struct StartedServices {
    /// The job's network; `None` without services.
    pub network: Option<String>,
    /// `job.services.<id>`.
    pub info: IndexMap<String, ContainerInfo>,
    /// `id:address` entries for a job container that is not on the network (`extra_hosts`).
    pub hosts: Vec<String>,
}

impl Setup<'_> {
    /// Creates the network and starts every service in order, waiting for each health check.
    pub(crate) async fn start_services(
        &self,
        opts: &[ContainerOptions],
    ) -> Result<StartedServices, ExecutorError> {
        if self.spec.services.is_empty() {
            return Ok(StartedServices::default());
        }
        let network = self.create_network().await?;
        let mut started = StartedServices {
            network: Some(network.clone()),
            ..Default::default()
        };
        for ((id, svc), opts) in self.spec.services.iter().zip(opts) {
            let (info, address) = self.start_service(id, svc, opts, &network).await?;
            if let Some(address) = address {
                started.hosts.push(format!("{id}:{address}"));
            }
            started.info.insert(id.clone(), info);
        }
        Ok(started)
    }

    async fn create_network(&self) -> Result<String, ExecutorError> {
        let name = object_name(&[&self.spec.run_id, &self.spec.job_key]);
        let req = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            labels: Some(self.labels()),
            ..Default::default()
        };
        self.docker
            .create_network(req)
            .await
            .map_err(|e| engine_error("creating the job network", e))?;
        self.guard.register(|r| r.networks.push(name.clone()));
        Ok(name)
    }

    async fn start_service(
        &self,
        id: &str,
        svc: &ContainerSpec,
        opts: &ContainerOptions,
        network: &str,
    ) -> Result<(ContainerInfo, Option<String>), ExecutorError> {
        let mut host = HostConfig::default();
        opts.apply_to_host_config(&mut host);
        host.binds = self.volume_binds(&svc.volumes).await?;
        let (exposed, bindings) = port_map(&svc.ports)?;
        host.port_bindings = bindings;
        host.network_mode = Some(opts.network.clone().unwrap_or_else(|| network.to_string()));
        let network_name = host.network_mode.clone().unwrap_or_default();
        let body = ContainerCreateBody {
            image: Some(svc.image.clone()),
            env: Some(env_list(&svc.env, &opts.env)),
            labels: Some(self.labels()),
            hostname: opts.hostname.clone(),
            user: opts.user.clone(),
            working_dir: opts.workdir.clone(),
            entrypoint: opts.entrypoint.clone().map(|e| vec![e]),
            healthcheck: opts.health.clone(),
            exposed_ports: exposed,
            host_config: Some(host),
            networking_config: Some(endpoint(network, id)),
            ..Default::default()
        };
        let cid = self
            .create(&format!("{}-{id}", self.spec.job_key), body)
            .await?;
        self.docker
            .start_container(&cid, None)
            .await
            .map_err(|e| engine_error(&format!("starting service {id}"), e))?;
        wait_healthy(self.docker, &cid, id).await?;
        let (ports, address) = published(self.docker, &cid, id, &network_name).await?;
        Ok((
            ContainerInfo {
                ports,
                id: cid,
                network: network_name,
            },
            address,
        ))
    }
}

/// A network endpoint under `alias` (the service id, or the job key).
pub(crate) fn endpoint(network: &str, alias: &str) -> NetworkingConfig {
    let settings = EndpointSettings {
        aliases: Some(vec![alias.to_string()]),
        ..Default::default()
    };
    NetworkingConfig {
        endpoints_config: Some(std::collections::HashMap::from([(
            network.to_string(),
            settings,
        )])),
    }
}

/// A service's published ports (container port `5432` to host port, for `job.services`) and its
/// address on `network`.
async fn published(
    docker: &Docker,
    id: &str,
    name: &str,
    network: &str,
) -> Result<(IndexMap<String, String>, Option<String>), ExecutorError> {
    let info = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| engine_error(&format!("inspecting service {name}"), e))?;
    let settings = info.network_settings.unwrap_or_default();
    let address = settings
        .networks
        .as_ref()
        .and_then(|n| n.get(network))
        .and_then(|e| e.ip_address.clone())
        .filter(|ip| !ip.is_empty());
    let mut ports = IndexMap::new();
    let mut entries: Vec<_> = settings.ports.unwrap_or_default().into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, bindings) in entries {
        let port = key.split('/').next().unwrap_or_default().to_string();
        let host_port = bindings
            .unwrap_or_default()
            .into_iter()
            .find_map(|b| b.host_port.filter(|p| !p.is_empty()));
        if let Some(host_port) = host_port {
            ports.insert(port, host_port);
        }
    }
    Ok((ports, address))
}

type PortConfig = (Option<Vec<String>>, Option<bollard::models::PortMap>);

/// `[ADDRESS:]HOST:CONTAINER[/proto]` or `CONTAINER[/proto]` (a free host port), as
/// `docker run -p` reads them; without an address the port listens on [`LOOPBACK`].
pub(crate) fn port_map(ports: &[String]) -> Result<PortConfig, ExecutorError> {
    if ports.is_empty() {
        return Ok((None, None));
    }
    let mut exposed = Vec::new();
    let mut map = bollard::models::PortMap::new();
    for p in ports {
        let (host, container) = match p.rsplit_once(':') {
            Some((h, c)) => (Some(h), c),
            None => (None, p.as_str()),
        };
        let (address, host_port) = match host.map(|h| h.rsplit_once(':')) {
            Some(Some((address, port))) => (address, port),
            Some(None) => (LOOPBACK, host.unwrap_or_default()),
            None => (LOOPBACK, ""),
        };
        let key = if container.contains('/') {
            container.to_string()
        } else {
            format!("{container}/tcp")
        };
        let valid = |n: &str| n.parse::<u16>().is_ok();
        if key.split('/').next().is_none_or(|n| !valid(n))
            || (!host_port.is_empty() && !valid(host_port))
        {
            return Err(ExecutorError::UnsupportedOption(format!(
                "ports: {p} (invalid port)"
            )));
        }
        exposed.push(key.clone());
        let binding = PortBinding {
            host_ip: Some(address.to_string()),
            host_port: Some(host_port.to_string()),
        };
        map.entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    Ok((Some(exposed), Some(map)))
}

/// Waits until a service with a health check reports healthy, as GitHub does before the first
/// step. Services without one are ready as soon as they run.
async fn wait_healthy(docker: &Docker, id: &str, name: &str) -> Result<(), ExecutorError> {
    loop {
        let info = docker
            .inspect_container(id, None)
            .await
            .map_err(|e| engine_error(&format!("inspecting service {name}"), e))?;
        let state = info.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(ExecutorError::Other(format!(
                "service container `{name}` exited with code {}",
                state.exit_code.unwrap_or(-1)
            )));
        }
        let health = state.health.and_then(|h| h.status).map(|s| s.to_string());
        match health.as_deref() {
            None | Some("") | Some("none") | Some("healthy") => return Ok(()),
            Some("unhealthy") => {
                return Err(ExecutorError::Other(format!(
                    "service container `{name}` is unhealthy"
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_map_to_loopback_bindings() {
        let (exposed, map) = port_map(&[
            "8080".into(),
            "5433:5432".into(),
            "53:53/udp".into(),
            "0.0.0.0:8443:443".into(),
        ])
        .unwrap();
        assert_eq!(
            exposed.unwrap(),
            vec!["8080/tcp", "5432/tcp", "53/udp", "443/tcp"]
        );
        let map = map.unwrap();
        let host = |k: &str| {
            let b = &map[k].as_ref().unwrap()[0];
            format!(
                "{}:{}",
                b.host_ip.clone().unwrap(),
                b.host_port.clone().unwrap()
            )
        };
        assert_eq!(
            (
                host("8080/tcp"),
                host("5432/tcp"),
                host("53/udp"),
                host("443/tcp")
            ),
            (
                "127.0.0.1:".into(),
                "127.0.0.1:5433".into(),
                "127.0.0.1:53".into(),
                "0.0.0.0:8443".into()
            )
        );
        for bad in ["http", "x:80", "99999"] {
            assert!(
                matches!(
                    port_map(&[bad.into()]),
                    Err(ExecutorError::UnsupportedOption(_))
                ),
                "{bad}"
            );
        }
    }
}
