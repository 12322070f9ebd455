//! A tiny authoritative DNS server on a loopback address (UDP port 53), for tests that resolve
//! names the way a pod does: a program in a chroot whose `/etc/resolv.conf` names this server,
//! with the search domains and `ndots:5` a pod gets. It answers A queries for the names it was
//! given, NODATA for other types of those names, NXDOMAIN for everything else, and records every
//! question so a test can see the search-list walk. Stopped on drop.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct DnsServer {
    pub addr: SocketAddr,
    questions: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    /// Serves `records` (fully qualified names without the trailing dot) on `ip:53`. Binding port
    /// 53 needs root; pick a loopback address no other test uses.
    pub fn start(ip: Ipv4Addr, records: &[(&str, Ipv4Addr)]) -> std::io::Result<DnsServer> {
        let socket = UdpSocket::bind((ip, 53))?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let records: BTreeMap<String, Ipv4Addr> = records.iter().map(|(n, a)| (n.to_ascii_lowercase(), *a)).collect();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (questions.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else { continue };
                if let Some((name, answer)) = respond(&buf[..n], &records) {
                    seen.lock().unwrap().push(name);
                    let _ = socket.send_to(&answer, peer);
                }
            }
        });
        Ok(DnsServer {
            addr,
            questions,
            stop,
            thread: Some(thread),
        })
    }

    /// Every question asked so far, in order, as `name type` (`kubernetes.default.svc.cluster.local A`).
    pub fn questions(&self) -> Vec<String> {
        self.questions.lock().unwrap().clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to one query: (`name type` for the log, the response packet). `None` for packets
/// that are not a well-formed single-question query.
fn respond(query: &[u8], records: &BTreeMap<String, Ipv4Addr>) -> Option<(String, Vec<u8>)> {
    if query.len() < 12 || query[2] & 0x80 != 0 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = *query.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
    let question_end = i + 4;
    query.get(..question_end)?;
    let name = labels.join(".");
    let address = records.get(&name);
    let mut out = Vec::with_capacity(question_end + 16);
    out.extend_from_slice(&query[0..2]);
    // QR, opcode 0, AA; RD as asked; RA; RCODE 0 (found) or 3 (NXDOMAIN).
    let rcode = if address.is_some() { 0 } else { 3 };
    out.push(0x84 | (query[2] & 0x01));
    out.push(0x80 | rcode);
    out.extend_from_slice(&[0, 1]); // one question
    let answer = address.filter(|_| qtype == 1);
    out.extend_from_slice(&[0, answer.is_some() as u8, 0, 0, 0, 0]);
    out.extend_from_slice(&query[12..question_end]);
    if let Some(ip) = answer {
        // A pointer to the question's name, type A, class IN, TTL 5 s, 4 bytes of address.
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    let kind = match qtype {
        1 => "A".to_string(),
        28 => "AAAA".to_string(),
        other => other.to_string(),
    };
    Some((format!("{name} {kind}"), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn answers_known_names_and_refuses_the_rest() {
        let records = BTreeMap::from([("ec2.us-east-1.amazonaws.com".to_string(), Ipv4Addr::new(127, 0, 0, 1))]);
        let (name, a) = respond(&query("EC2.us-east-1.amazonaws.com", 1), &records).unwrap();
        assert_eq!(name, "ec2.us-east-1.amazonaws.com A");
        assert_eq!(&a[0..2], &[0x12, 0x34]);
        assert_eq!(a[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1, "one answer");
        assert_eq!(&a[a.len() - 4..], &[127, 0, 0, 1]);
        let (_, aaaa) = respond(&query("ec2.us-east-1.amazonaws.com", 28), &records).unwrap();
        assert_eq!((aaaa[3] & 0x0f, aaaa[7]), (0, 0), "NODATA for AAAA");
        let (_, nx) = respond(&query("ec2.us-east-1.amazonaws.com.default.svc.cluster.local", 1), &records).unwrap();
        assert_eq!(nx[3] & 0x0f, 3, "NXDOMAIN");
        assert!(respond(&[0u8; 5], &records).is_none());
    }
}
