use vrrplab::lab::Lab;
use vrrplab::topology::Topology;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    vrrplab::privilege::require_root();
    let t0 = std::time::Instant::now();
    let lab = Lab::build(Topology::with_nodes(2, true)).await.unwrap();
    println!("built in {:?}", t0.elapsed());
    for n in lab.nodes() {
        println!("{}", n.addresses().await.unwrap().render());
    }
    drop(lab);
    println!("total {:?}", t0.elapsed());
}
