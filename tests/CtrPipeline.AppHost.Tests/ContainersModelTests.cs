using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CtrPipeline.Contracts;
using static CtrPipeline.AppHost.Tests.AppModel;

namespace CtrPipeline.AppHost.Tests;

/// <summary>
/// Containers mode (real Kafka, Flink) and existing clusters, from the app model Program.cs builds. This machine has
/// no container runtime, so nothing is started: images, ports, environment, commands and start order are checked.
/// </summary>
public sealed class ContainersModelTests
{
    private static Task<IDistributedApplicationTestingBuilder> Model(params string[] args) => BuildAsync(["--Parameters:mode=containers", .. args]);

    private static readonly string[] Workers = ["native-continuous", "native-microbatch", Engines.Sql, Engines.Flink, Engines.Spark, PipelineTopology.Analyzer, PipelineTopology.Producer];

    [Fact]
    public async Task Kafka_is_one_kraft_node_from_the_official_image_reachable_from_the_host_and_from_containers()
    {
        await using var builder = await Model();
        Assert.DoesNotContain(builder.Resources, r => r.Name == PipelineTopology.EmbeddedBroker);
        var kafka = Container(builder, ApacheKafka.Broker);
        var image = Assert.Single(kafka.Annotations.OfType<ContainerImageAnnotation>());
        Assert.Equal(("apache/kafka", "3.9.0"), (image.Image, image.Tag));

        var endpoint = Endpoint(kafka, "tcp");
        Assert.Equal((9092, 9092, false), (endpoint.Port, endpoint.TargetPort, endpoint.IsProxied)); // kcat and friends find it on 9092
        var env = await Environment(kafka);
        Assert.Equal("broker,controller", env["KAFKA_PROCESS_ROLES"]);
        Assert.Equal("1@localhost:9094", env["KAFKA_CONTROLLER_QUORUM_VOTERS"]);
        Assert.Equal("HOST://:9092,INTERNAL://:9093,CONTROLLER://:9094", env["KAFKA_LISTENERS"]);
        Assert.Equal("HOST://{kafka.bindings.tcp.host}:{kafka.bindings.tcp.port},INTERNAL://kafka:9093", env["KAFKA_ADVERTISED_LISTENERS"]);
        Assert.Equal("HOST:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT", env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]);
        Assert.Equal(("CONTROLLER", "INTERNAL"), (env["KAFKA_CONTROLLER_LISTENER_NAMES"], env["KAFKA_INTER_BROKER_LISTENER_NAME"]));
        Assert.Equal("false", env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]);
        Assert.Equal("LogAppendTime", env["KAFKA_LOG_MESSAGE_TIMESTAMP_TYPE"]);
        Assert.Equal("1", env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]);
        Assert.Equal(22, env["CLUSTER_ID"].Length); // a KRaft cluster id: 16 bytes, base64url

        var connection = Assert.IsAssignableFrom<IResourceWithConnectionString>(kafka);
        Assert.Equal("{kafka.bindings.tcp.host}:{kafka.bindings.tcp.port}", connection.ConnectionStringExpression.ValueExpression);
    }

    [Fact]
    public async Task Kafka_port_zero_publishes_kafka_on_a_port_the_orchestrator_chooses_and_advertises_it()
    {
        await using var builder = await Model("--Parameters:kafka-port=0");
        var endpoint = Endpoint(Container(builder, ApacheKafka.Broker), "tcp");
        Assert.Null(endpoint.Port);
        Assert.True(endpoint.IsProxied);
    }

    [Fact]
    public async Task Kafka_setup_creates_the_topics_after_the_broker_runs_and_every_worker_waits_for_it_to_complete()
    {
        await using var builder = await Model();
        var setup = Resource(builder, ApacheKafka.Setup);
        Assert.IsType<ProjectResource>(setup);
        Assert.Equal([ApacheKafka.Broker], WaitsFor(setup));
        var setupEnv = await Environment(setup);
        Assert.Equal("{kafka.connectionString}", setupEnv["ConnectionStrings__kafka"]);
        Assert.Equal("4", setupEnv["Pipeline__Partitions"]);

        foreach (var name in Workers)
        {
            var worker = Resource(builder, name);
            Assert.Equal([ApacheKafka.Setup], WaitsForCompletion(worker));
            Assert.Contains(ApacheKafka.Broker, WaitsFor(worker));
            Assert.Equal("{kafka.connectionString}", (await Environment(worker))["ConnectionStrings__kafka"]);
        }
    }

    [Fact]
    public async Task Flink_runs_jobmanager_taskmanager_and_sql_gateway_from_the_repository_image()
    {
        await using var builder = await Model();
        foreach (var name in new[] { ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheFlink.SqlGateway })
        {
            var build = Assert.Single(Container(builder, name).Annotations.OfType<DockerfileBuildAnnotation>());
            Assert.Equal(Path.Combine(Repository, "flink"), build.ContextPath);
            Assert.Equal(Path.Combine(Repository, "flink", "Dockerfile"), build.DockerfilePath);
        }

        var jobManager = Container(builder, ApacheFlink.JobManager);
        Assert.Equal(["jobmanager"], await Arguments(jobManager));
        Assert.Equal(8081, Endpoint(jobManager, "http").TargetPort);
        var jobProperties = (await Environment(jobManager))["FLINK_PROPERTIES"].Split('\n');
        Assert.Contains("jobmanager.rpc.address: flink-jobmanager", jobProperties);
        Assert.Contains("jobmanager.bind-host: 0.0.0.0", jobProperties); // reachable from the other containers
        Assert.Contains("rest.bind-address: 0.0.0.0", jobProperties);
        Assert.NotEmpty(jobManager.Annotations.OfType<HealthCheckAnnotation>());

        var taskManager = Container(builder, ApacheFlink.TaskManager);
        Assert.Equal(["taskmanager"], await Arguments(taskManager));
        var taskProperties = (await Environment(taskManager))["FLINK_PROPERTIES"].Split('\n');
        Assert.Contains("jobmanager.rpc.address: flink-jobmanager", taskProperties);
        Assert.Contains("taskmanager.numberOfTaskSlots: 4", taskProperties); // one slot per events partition
        Assert.Contains("taskmanager.host: flink-taskmanager", taskProperties);

        // Checkpoints and savepoints on one volume both processes write to (not the JobManager's memory).
        foreach (var container in new[] { jobManager, taskManager })
        {
            var state = Assert.Single(container.Annotations.OfType<ContainerMountAnnotation>(), m => m.Target == ApacheFlink.StateInContainer);
            Assert.Equal((ApacheFlink.StateVolume, ContainerMountType.Volume, false), (state.Source, state.Type, state.IsReadOnly));
        }
        Assert.Contains("execution.checkpointing.dir: file:///opt/ctr/state/checkpoints", jobProperties);
        Assert.Contains("execution.checkpointing.savepoint-dir: file:///opt/ctr/state/savepoints", jobProperties);
        Assert.Contains("taskmanager.bind-host: 0.0.0.0", taskProperties);
        Assert.Equal([ApacheFlink.JobManager], WaitsFor(taskManager));

        var gateway = Container(builder, ApacheFlink.SqlGateway);
        Assert.Equal(
            ["/opt/flink/bin/sql-gateway.sh", "start-foreground", "-Dsql-gateway.endpoint.rest.address=0.0.0.0", "-Dsql-gateway.endpoint.rest.port=8083",
             "-Dexecution.target=remote", "-Drest.address=flink-jobmanager", "-Drest.port=8081", "-Djobmanager.rpc.address=flink-jobmanager"],
            await Arguments(gateway));
        Assert.Equal(8083, Endpoint(gateway, "http").TargetPort);
        Assert.NotEmpty(gateway.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Equal([ApacheFlink.JobManager], WaitsFor(gateway));
    }


    [Theory]
    [InlineData("", "4", null)] // one slot per events partition
    [InlineData("--Parameters:flink-parallelism=2", "4", "2")]
    [InlineData("--Parameters:flink-parallelism=12", "12", "12")] // every task of a wider job gets a slot
    public async Task The_taskmanager_has_a_slot_for_every_task_of_the_flink_job(string parameter, string slots, string? parallelism)
    {
        await using var builder = await Model(parameter.Length > 0 ? [parameter] : []);

        var taskProperties = (await Environment(Container(builder, ApacheFlink.TaskManager)))["FLINK_PROPERTIES"].Split('\n');
        Assert.Contains($"taskmanager.numberOfTaskSlots: {slots}", taskProperties);
        Assert.Equal(parallelism, (await Environment(Resource(builder, Engines.Flink))).GetValueOrDefault("Flink__Parallelism"));
    }
    [Fact]
    public async Task The_flink_engine_waits_for_its_cluster_and_gets_the_gateway_jobmanager_and_kafka_as_flink_reaches_it()
    {
        await using var builder = await Model();
        var flink = Resource(builder, Engines.Flink);
        Assert.IsType<ProjectResource>(flink);
        Assert.Superset(new HashSet<string> { ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheFlink.SqlGateway }, WaitsFor(flink).ToHashSet());

        var env = await Environment(flink);
        Assert.Equal("{flink-gateway.connectionString}", env["ConnectionStrings__flink-gateway"]);
        Assert.Equal("{flink-rest.connectionString}", env["ConnectionStrings__flink-rest"]);
        Assert.Equal("kafka:9093", env["Flink__KafkaBootstrapServers"]);
        Assert.Equal("{flink-sql-gateway.bindings.http.url}", ((IResourceWithConnectionString)Resource(builder, ApacheFlink.GatewayConnection)).ConnectionStringExpression.ValueExpression);
        Assert.Equal("{flink-jobmanager.bindings.http.url}", ((IResourceWithConnectionString)Resource(builder, ApacheFlink.RestConnection)).ConnectionStringExpression.ValueExpression);

        // The producer starts last, once every engine, Flink included, runs.
        Assert.Contains(Engines.Flink, WaitsFor(Resource(builder, PipelineTopology.Producer)));
    }

    [Fact]
    public async Task Dockerfile_builds_on_the_pinned_flink_release_with_the_matching_kafka_connector()
    {
        var dockerfile = await File.ReadAllLinesAsync(Path.Combine(Repository, "flink", "Dockerfile"));
        Assert.Contains($"FROM flink:{ApacheFlink.Version}-scala_2.12-java17", dockerfile);
        Assert.Contains($"ARG KAFKA_CONNECTOR_VERSION={ApacheFlink.KafkaConnectorVersion}", dockerfile);
        Assert.EndsWith("-" + string.Join('.', ApacheFlink.Version.Split('.')[..2]), ApacheFlink.KafkaConnectorVersion); // built for this Flink minor
        Assert.Contains(dockerfile, l => l.Contains("repo1.maven.org/maven2/org/apache/flink/flink-sql-connector-kafka/${KAFKA_CONNECTOR_VERSION}/"));
    }

    [Fact]
    public async Task Existing_kafka_and_flink_clusters_replace_the_containers()
    {
        await using var builder = await Model(
            "--ConnectionStrings:kafka=broker-1:9092,broker-2:9092",
            "--ConnectionStrings:flink-gateway=http://flink-gw:8083",
            "--ConnectionStrings:flink-rest=http://flink-jm:8081",
            "--ConnectionStrings:spark-connect=sc://spark-connect:15002",
            "--Parameters:spark-kafka=broker-2.internal:9092",
            "--Parameters:spark-catalog=s3a://bucket/campaigns.csv",
            "--Parameters:flink-kafka=broker-1.internal:9092",
            "--ConnectionStrings:ctrdb=Host=db.example;Username=ctr;Password=secret;Database=ctr");

        string[] started = [ApacheKafka.Broker, ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheFlink.SqlGateway, ApacheSpark.Server, SqlEngineDatabase.Server];
        Assert.DoesNotContain(builder.Resources.OfType<ContainerResource>(), c => started.Contains(c.Name));
        Assert.IsAssignableFrom<ParameterResource>(Resource(builder, PipelineTopology.KafkaConnection)); // read from ConnectionStrings:kafka
        Assert.IsAssignableFrom<ParameterResource>(Resource(builder, ApacheFlink.GatewayConnection));
        Assert.IsAssignableFrom<ParameterResource>(Resource(builder, SqlEngineDatabase.Database));

        Assert.DoesNotContain("Producer__Linger", (await Environment(Resource(builder, PipelineTopology.Producer))).Keys); // Kafka's own 5 ms

        var sql = Resource(builder, Engines.Sql);
        var sqlEnv = await Environment(sql);
        Assert.Equal("{ctrdb.connectionString}", sqlEnv["ConnectionStrings__ctrdb"]);
        Assert.DoesNotContain("Sql__Schema", sqlEnv.Keys); // the Kafka cluster keeps its offsets, so the engine keeps its schema
        Assert.Empty(WaitsFor(sql));
        Assert.Equal([ApacheKafka.Setup], WaitsForCompletion(sql));

        var flink = Resource(builder, Engines.Flink);
        var env = await Environment(flink);
        Assert.Equal("{flink-gateway.connectionString}", env["ConnectionStrings__flink-gateway"]);
        Assert.Equal("broker-1.internal:9092", env["Flink__KafkaBootstrapServers"]);
        Assert.DoesNotContain("Flink__CatalogPath", env.Keys); // the catalog is written into the job's SQL
        Assert.Empty(WaitsFor(flink)); // nothing of ours to wait for but the topics
        Assert.Equal([ApacheKafka.Setup], WaitsForCompletion(flink));
        Assert.Empty(WaitsFor(Resource(builder, ApacheKafka.Setup)));

        var spark = Resource(builder, Engines.Spark);
        var sparkEnv = await Environment(spark);
        Assert.Equal("{spark-connect.connectionString}", sparkEnv["ConnectionStrings__spark-connect"]);
        Assert.Equal("broker-2.internal:9092", sparkEnv["Spark__KafkaBootstrapServers"]);
        Assert.Equal("s3a://bucket/campaigns.csv", sparkEnv["Spark__CatalogPath"]);
        Assert.Empty(WaitsFor(spark));
    }

    [Fact]
    public async Task Spark_connect_server_runs_from_the_repository_image_with_the_catalog_mounted()
    {
        await using var builder = await Model();
        var server = Container(builder, ApacheSpark.Server);
        var build = Assert.Single(server.Annotations.OfType<DockerfileBuildAnnotation>());
        Assert.Equal(Path.Combine(Repository, "spark"), build.ContextPath);
        Assert.Equal(
            ["/opt/spark/sbin/start-connect-server.sh", "--conf", "spark.connect.grpc.binding.port=15002", "--conf", "spark.sql.session.timeZone=UTC",
             "--conf", "spark.sql.shuffle.partitions=4"],
            await Arguments(server));
        var env = await Environment(server);
        Assert.Equal("true", env["SPARK_NO_DAEMONIZE"]); // in the foreground, its log in the dashboard
        Assert.Equal(15002, Endpoint(server, "grpc").TargetPort);
        Assert.Equal(4040, Endpoint(server, "ui").TargetPort);
        var mount = Assert.Single(server.Annotations.OfType<ContainerMountAnnotation>());
        Assert.Equal((Path.Combine(Repository, "data", "campaigns.csv"), "/opt/ctr/campaigns.csv", true), (mount.Source, mount.Target, mount.IsReadOnly));

        var connection = (IResourceWithConnectionString)Resource(builder, ApacheSpark.Connection);
        Assert.Equal("sc://{spark-connect-server.bindings.grpc.host}:{spark-connect-server.bindings.grpc.port}", connection.ConnectionStringExpression.ValueExpression);

        var driver = Resource(builder, Engines.Spark);
        Assert.IsType<ProjectResource>(driver);
        Assert.Contains(ApacheSpark.Server, WaitsFor(driver));
        var driverEnv = await Environment(driver);
        Assert.Equal("{spark-connect.connectionString}", driverEnv["ConnectionStrings__spark-connect"]);
        Assert.Equal("kafka:9093", driverEnv["Spark__KafkaBootstrapServers"]);
        Assert.DoesNotContain("Spark__CatalogPath", driverEnv.Keys); // the driver's default is where the file is mounted
        Assert.Contains(Engines.Spark, WaitsFor(Resource(builder, PipelineTopology.Producer)));
    }

    [Fact]
    public async Task The_files_of_the_kafka_client_properties_are_mounted_read_only_where_flink_and_spark_read_them()
    {
        // A bare builder, as Program.cs does not pass client properties yet; nothing is built or started.
        var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            Args = [], ProjectDirectory = Path.Combine(Repository, "src", "CtrPipeline.AppHost"), AssemblyName = typeof(ApacheFlink).Assembly.GetName().Name, DisableDashboard = true,
        });
        var parameters = PipelineParameters.From(builder.Configuration);
        // Two files of one name: the CA and a PKCS#12 key store. The client certificate and key are given inline, not mounted.
        var client = KafkaClientProperties.Parse(
            "security.protocol=SSL\nssl.ca.location=/certs/a/kafka.pem\nssl.keystore.location=/certs/b/kafka.pem\nssl.keystore.password=k\n", "client.properties");

        var flink = builder.AddFlinkCluster(parameters, client);
        var spark = builder.AddSparkConnectServer(parameters, client);

        (string, string, bool, ContainerMountType)[] expected =
        [
            ("/certs/a/kafka.pem", "/etc/ctr/kafka/kafka.pem", true, ContainerMountType.BindMount),
            ("/certs/b/kafka.pem", "/etc/ctr/kafka/2-kafka.pem", true, ContainerMountType.BindMount),
        ];
        foreach (var name in new[] { ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheSpark.Server })
            Assert.Equal(expected, KafkaMounts(Single(builder, name)));
        Assert.Empty(KafkaMounts(Single(builder, ApacheFlink.SqlGateway))); // it plans the job; Kafka is read and written in the cluster
        Assert.Equal((JavaKafkaProperties.DefaultFilesFolder, JavaKafkaProperties.DefaultFilesFolder), (flink.KafkaFilesFolder, spark.KafkaFilesFolder));
    }

    [Fact]
    public async Task In_containers_mode_the_engines_are_told_where_the_clusters_see_the_kafka_files_and_nothing_is_mounted_without_any()
    {
        await using var builder = await Model();

        Assert.Equal("/etc/ctr/kafka", (await Environment(Resource(builder, Engines.Flink)))["Flink__KafkaFilesFolder"]);
        Assert.Equal("/etc/ctr/kafka", (await Environment(Resource(builder, Engines.Spark)))["Spark__KafkaFilesFolder"]);
        foreach (var name in new[] { ApacheFlink.JobManager, ApacheFlink.TaskManager, ApacheSpark.Server })
            Assert.Empty(KafkaMounts(Container(builder, name)));
    }

    private static ContainerResource Single(IDistributedApplicationBuilder builder, string name) =>
        Assert.IsAssignableFrom<ContainerResource>(Assert.Single(builder.Resources, r => r.Name == name));

    private static List<(string, string, bool, ContainerMountType)> KafkaMounts(ContainerResource container) =>
        [.. container.Annotations.OfType<ContainerMountAnnotation>().Where(m => m.Target.StartsWith("/etc/ctr/kafka/", StringComparison.Ordinal))
            .Select(m => (m.Source!, m.Target, m.IsReadOnly, m.Type))];

    [Fact]
    public async Task The_sql_engine_gets_a_postgresql_container_with_the_ctrdb_database_and_waits_for_it()
    {
        await using var builder = await Model();
        var server = Assert.IsType<PostgresServerResource>(Resource(builder, SqlEngineDatabase.Server));
        var image = Assert.Single(server.Annotations.OfType<ContainerImageAnnotation>());
        Assert.Equal(("docker.io", "library/postgres", "18.3"), (image.Registry, image.Image, image.Tag)); // Aspire.Hosting.PostgreSQL's default
        Assert.Equal(5432, Endpoint(server, "tcp").TargetPort);
        // No data volume or bind mount: the server starts empty, like the Kafka container, every time the AppHost starts.
        Assert.Empty(server.Annotations.OfType<ContainerMountAnnotation>());

        Assert.True(server.PasswordParameter.Secret); // generated by Aspire, not a fixed password

        var database = Assert.IsType<PostgresDatabaseResource>(Resource(builder, SqlEngineDatabase.Database));
        Assert.Equal(("ctrdb", SqlEngineDatabase.Server), (database.DatabaseName, database.Parent.Name));
        Assert.NotEmpty(database.Annotations.OfType<HealthCheckAnnotation>()); // what the engine's WaitFor waits on

        var sql = Resource(builder, Engines.Sql);
        Assert.IsType<ProjectResource>(sql);
        Assert.Contains(SqlEngineDatabase.Database, WaitsFor(sql));
        var env = await Environment(sql);
        Assert.Equal("{ctrdb.connectionString}", env["ConnectionStrings__ctrdb"]);
        Assert.DoesNotContain("Sql__SqliteFile", env.Keys);
        Assert.DoesNotContain("Sql__Schema", env.Keys);
        Assert.Contains(Engines.Sql, WaitsFor(Resource(builder, PipelineTopology.Producer)));
    }

    [Fact]
    public async Task Spark_dockerfile_adds_the_connect_server_and_kafka_connector_of_the_pinned_release()
    {
        var dockerfile = await File.ReadAllLinesAsync(Path.Combine(Repository, "spark", "Dockerfile"));
        Assert.Contains($"FROM spark:{ApacheSpark.Version}-scala2.12-java17-ubuntu", dockerfile);
        Assert.Contains($"ARG SPARK_VERSION={ApacheSpark.Version}", dockerfile);
        foreach (var artifact in new[] { "spark-connect_2.12", "spark-sql-kafka-0-10_2.12", "spark-token-provider-kafka-0-10_2.12" })
            Assert.Contains(dockerfile, l => l.Contains($"/org/apache/spark/{artifact}/${{SPARK_VERSION}}/{artifact}-${{SPARK_VERSION}}.jar /opt/spark/jars/"));
        Assert.Contains(dockerfile, l => l.Contains("kafka-clients-3.4.1.jar") && l.Contains("/opt/spark/jars/"));
    }

    [Fact]
    public async Task An_existing_kafka_works_in_embedded_mode_too_and_no_embedded_broker_starts()
    {
        await using var builder = await BuildAsync("--Parameters:mode=embedded", "--ConnectionStrings:kafka=broker-1:9092");
        Assert.DoesNotContain(builder.Resources, r => r.Name == PipelineTopology.EmbeddedBroker);
        Assert.DoesNotContain(builder.Resources, r => r.Name is Engines.Flink or SqlEngineDatabase.Server);
        Assert.Equal([ApacheKafka.Setup], WaitsForCompletion(Resource(builder, "native-continuous")));
        Assert.Equal([ApacheKafka.Setup], WaitsForCompletion(Resource(builder, Engines.Sql)));
    }
}
