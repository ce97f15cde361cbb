// One Elasticsearch 7.10.2 node for the tests, through org.codelibs:elasticsearch-cluster-runner (a real
// node in-process). Started by test/services/elasticsearch.sh; arguments: basePath httpPort transportPort.
// Loopback only, single-node discovery, no disk watermarks (a nearly full disk must not block indexing).
import static org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner.newConfigs;

import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;

public final class GantryEsNode {
  public static void main(String[] args) throws Exception {
    final String basePath = args[0];
    final int httpPort = Integer.parseInt(args[1]);
    final String transportPort = args[2];
    final ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        runner.close();
      } catch (Exception e) {
        // exiting anyway
      }
    }));
    runner.onBuild((number, settings) -> {
      settings.put("network.host", "127.0.0.1");
      settings.put("discovery.type", "single-node");
      settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
      settings.put("transport.port", transportPort);
      settings.put("http.port", Integer.toString(httpPort));
      settings.put("action.auto_create_index", true);
    }).build(newConfigs().basePath(basePath).numOfNode(1).baseHttpPort(httpPort - 1).clusterName("gantry-test").disableESLogger());
    runner.ensureYellow();
    System.out.println("gantry: elasticsearch ready on 127.0.0.1:" + httpPort);
    Thread.currentThread().join();
  }
}
